package browser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The checks must catch what they claim to: a page wider than the window,
// a cell whose text does not fit, a link to nothing.
func TestInspectCatchesOverflowAndDeadLinks(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "bad.html")
	if err := os.WriteFile(filepath.Join(dir, "there.html"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body>
<div style="width:3000px">wide</div>
<table style="table-layout:fixed;width:200px"><tr><td style="width:50px;white-space:nowrap;overflow:hidden">averyveryverylongunbreakablewordindeed</td></tr></table>
<img id="pic" src="https://example.org/pixel.png"><a href="there.html">ok</a> <a href="missing/report.html">dead</a> <a href="#top">anchor</a> <a href="https://example.org/">away</a>
</body></html>`
	if err := os.WriteFile(page, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
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
	if len(l.Requests) != 1 || !strings.Contains(l.Requests[0], "example.org/pixel.png") {
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
	blank := filepath.Join(dir, "blank.html")
	if err := os.WriteFile(blank, []byte("<!doctype html><body></body>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Screenshot(context.Background(), blank, png, 400, 300); err != nil {
		t.Fatal(err)
	}
	if p, _ := Painted(png); p != 0 {
		t.Errorf("a blank page painted %.3f of its pixels", p)
	}
}
