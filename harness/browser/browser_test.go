package browser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// needChromium skips, saying why, only when no headless Chromium is
// installed (`ci/deps.sh test` installs it, and make test runs that).
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := Binary(); err != nil {
		t.Skipf("skipped: %v", err)
	}
}

func writePage(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The checks must catch what they claim to: a page wider than the window,
// a cell whose text does not fit, a resource the page would load, a link
// to nothing. Nothing here leaves the machine: the image is a file name.
func TestInspectCatchesOverflowAndDeadLinks(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	writePage(t, dir, "there.html", "ok")
	page := writePage(t, dir, "bad.html", `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body>
<div style="width:3000px">wide</div>
<table style="table-layout:fixed;width:200px"><tr><td style="width:50px;white-space:nowrap;overflow:hidden">averyveryverylongunbreakablewordindeed</td></tr></table>
<img id="pic" src="pixel.png"><a href="there.html">ok</a> <a href="missing/report.html">dead</a> <a href="#top">anchor</a> <a href="https://example.invalid/">away</a>
</body></html>`)
	l, err := Inspect(context.Background(), page, 1400, 900)
	if err != nil {
		t.Fatal(err)
	}
	if l.ScrollWidth <= l.Viewport {
		t.Errorf("scroll width %d within a %d window: the wide div was not measured", l.ScrollWidth, l.Viewport)
	}
	joined := strings.Join(l.Overflow, "\n")
	if !strings.Contains(joined, "div") || !strings.Contains(joined, "td") {
		t.Errorf("overflow report misses the wide div or the clipped cell:\n%s", joined)
	}
	if len(l.Requests) != 1 || !strings.Contains(l.Requests[0], "pixel.png") {
		t.Errorf("requests = %v, want the image the page loads", l.Requests)
	}
	if b, ok := l.IDs["pic"]; !ok || b.Top <= 0 {
		t.Errorf("position of #pic = %+v, %v", b, ok)
	}
	if got := Unresolved(page, l.Links); len(got) != 1 || got[0] != "missing/report.html" {
		t.Errorf("unresolved links = %v, want the dead one only", got)
	}
	png := filepath.Join(dir, "bad.png")
	if err := Screenshot(context.Background(), page, png, 800, 600); err != nil {
		t.Fatal(err)
	}
	if p, err := Painted(png); err != nil || p == 0 {
		t.Errorf("painted share %v (%v): the screenshot is blank", p, err)
	}
	blank := writePage(t, dir, "blank.html", "<!doctype html><body></body>")
	if err := Screenshot(context.Background(), blank, png, 400, 300); err != nil {
		t.Fatal(err)
	}
	if p, _ := Painted(png); p != 0 {
		t.Errorf("a blank page painted %.3f of its pixels", p)
	}
}

// Text that leaves its box is reported wherever the box is: a label
// placed absolutely past its parent, SVG text past its svg viewport, a
// nowrap legend spilling out of its block (the report's timeline legend
// did), and text in a collapsed <details>. Text the box ellipsizes or
// scrolls, and text that fits, is not.
func TestInspectCatchesTextOutsideItsBox(t *testing.T) {
	needChromium(t)
	page := writePage(t, t.TempDir(), "text.html", `<!doctype html><html><body style="margin:0;font:14px sans-serif">
<div style="position:relative;width:300px;height:40px"><span id="abs" style="position:absolute;left:250px;white-space:nowrap">absolutely placed label past its parent</span></div>
<svg width="400" height="40" viewBox="0 0 400 40"><text x="380" y="20">svg label past the viewport</text><text x="10" y="35">fits</text></svg>
<div style="width:300px" class="legend"><span style="white-space:nowrap">one</span><span style="white-space:nowrap">a nowrap legend entry much longer than three hundred pixels</span></div>
<div style="width:200px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis">ellipsized text that is far too long for this box</div>
<pre style="width:200px;overflow:auto">scrolling text that is far too long for this box</pre>
<details><summary>more</summary><div style="width:100px;white-space:nowrap">hidden until opened, and too wide</div></details>
<p style="width:300px">ordinary text that wraps inside its box however long it gets, line after line</p>
</body></html>`)
	l, err := Inspect(context.Background(), page, 1024, 600)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(l.Overflow, "\n")
	for _, want := range []string{"span#abs", `"svg label past the viewport"`, `"a nowrap legend entry`, `"hidden until opened`} {
		if !strings.Contains(joined, want) {
			t.Errorf("overflow report lacks %s:\n%s", want, joined)
		}
	}
	for _, not := range []string{"ellipsized", "scrolling", "ordinary", `"fits"`} {
		if strings.Contains(joined, not) {
			t.Errorf("overflow report names %s, which stays in its box:\n%s", not, joined)
		}
	}
}

// Chromium sees the pinned fonts only: a family that is not pinned (a
// narrow one a machine may have, or one it lacks) renders as DejaVu Sans,
// so a width measured here is the width on any machine.
func TestFontsArePinned(t *testing.T) {
	needChromium(t)
	text := "not drawn, in the table below: 1 build before it"
	var body strings.Builder
	body.WriteString(`<!doctype html><body style="font-size:14px">`)
	families := map[string]string{"dejavu": "'DejaVu Sans'", "condensed": "'DejaVu Sans Condensed'", "arial": "Arial, sans-serif",
		"system": "-apple-system, BlinkMacSystemFont, 'Segoe UI', 'Noto Sans', Helvetica, sans-serif", "liberation": "'Liberation Sans', sans-serif"}
	for id, f := range families {
		body.WriteString(`<div><span id="` + id + `" style="font-family:` + f + `">` + text + `</span></div>`)
	}
	body.WriteString(`<div><span id="mono" style="font-family:'DejaVu Sans Mono'">` + text + `</span></div>`)
	body.WriteString(`<div><span id="monogeneric" style="font-family:ui-monospace,Menlo,Consolas,monospace">` + text + `</span></div>`)
	page := writePage(t, t.TempDir(), "fonts.html", body.String())
	l, err := Inspect(context.Background(), page, 1024, 600)
	if err != nil {
		t.Fatal(err)
	}
	width := func(id string) int { return l.IDs[id].Right - l.IDs[id].Left }
	want := width("dejavu")
	if want < 300 {
		t.Fatalf("DejaVu Sans measured %d px for %q: the pinned font was not used", want, text)
	}
	for id := range families {
		if got := width(id); got != want {
			t.Errorf("%s: %d px, want DejaVu Sans's %d px", id, got, want)
		}
	}
	if got, mono := width("monogeneric"), width("mono"); got != mono || mono == want {
		t.Errorf("monospace %d px, DejaVu Sans Mono %d px, DejaVu Sans %d px: monospace must be DejaVu Sans Mono", got, mono, want)
	}
}

// A machine without the pinned fonts gets an error naming the package,
// not a measure taken with whatever fonts it has.
func TestPinFontsNamesWhatIsMissing(t *testing.T) {
	saved := PinnedFonts
	defer func() { PinnedFonts = saved }()
	PinnedFonts = append([]PinnedFont{{"/nonexistent/DejaVuWide.ttf", "fonts-dejavu-wide"}}, saved...)
	_, err := pinFonts(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "fonts-dejavu-wide") || !strings.Contains(err.Error(), "ci/deps.sh test") {
		t.Errorf("pinFonts with a missing font = %v, want an error naming its package and ci/deps.sh", err)
	}
}
