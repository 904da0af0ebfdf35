package report

import (
	"context"
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/browser"
	"github.com/relapse-dev/relapse/harness/markdown/mdcheck"
)

var cspContent = regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`)

// The page's policy forbids loading anything and inline code but its own:
// no 'unsafe-inline', a hash for each <style>, <script> and style
// attribute it carries.
func TestReportPolicyHashesOnlyItsOwnInlineCode(t *testing.T) {
	page := render(t, reproducedReport())
	m := cspContent.FindStringSubmatch(page)
	if m == nil || !strings.HasPrefix(page[:strings.Index(page, "<style")], "<!DOCTYPE html>") {
		t.Fatalf("report.html has no Content-Security-Policy before its <style>:\n%.600s", page)
	}
	policy := html.UnescapeString(m[1])
	for _, want := range []string{"default-src 'none'", "base-uri 'none'", "form-action 'none'", "style-src 'sha256-", "'unsafe-hashes'", "script-src 'sha256-"} {
		if !strings.Contains(policy, want) {
			t.Errorf("policy lacks %q: %s", want, policy)
		}
	}
	if strings.Contains(policy, "unsafe-inline") || strings.Contains(policy, "unsafe-eval") || strings.Contains(policy, "*") {
		t.Errorf("policy allows more than the page's own code: %s", policy)
	}
	// Each style attribute is allowed by its own value's hash only.
	if red, blue := contentSecurityPolicy([]byte(`<p style="color:red">`)), contentSecurityPolicy([]byte(`<p style="color:blue">`)); red == blue {
		t.Errorf("two style attributes give one policy: %s", red)
	}
}

// In Chromium, the page renders under its policy exactly as without it
// (same pixels), and Chromium reports no violation, for a sample report
// and for one whose every string is hostile.
func TestReportRendersUnderItsPolicy(t *testing.T) {
	bin, err := browser.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	hostile := &Report{}
	mdcheck.Fill(hostile, mdcheck.Hostile)
	for name, r := range map[string]*Report{"sample": reproducedReport(), "hostile": hostile} {
		page := filepath.Join(dir, name+".html")
		text := render(t, r)
		if err := os.WriteFile(page, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		// Chromium writes the console, CSP violations included, to stderr
		// with --enable-logging=stderr (browser's helpers keep stdout only).
		profile := t.TempDir()
		cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir="+profile,
			"--virtual-time-budget=3000", "--enable-logging=stderr", "--v=0", "--dump-dom", "file://"+page)
		cmd.WaitDelay = 5 * time.Second
		var stderr strings.Builder
		cmd.Stderr = &stderr
		dom, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: chromium: %v\n%s", name, err, stderr.String())
		}
		if !strings.Contains(string(dom), `id="verdict"`) {
			t.Errorf("%s: chromium dumped no report (%d bytes)", name, len(dom))
		}
		for _, line := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(line, "Content Security Policy") {
				t.Errorf("%s: %s", name, line)
			}
		}
		if name != "sample" {
			continue
		}
		bare := filepath.Join(dir, "sample-without-policy.html")
		if err := os.WriteFile(bare, []byte(cspContent.ReplaceAllString(text, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		with, without := filepath.Join(dir, "with.png"), filepath.Join(dir, "without.png")
		for page, png := range map[string]string{page: with, bare: without} {
			if err := browser.Screenshot(ctx, page, png, 1024, 2400); err != nil {
				t.Fatal(err)
			}
		}
		if differ := pixelsDiffer(t, with, without); differ > 0 {
			t.Errorf("the page renders differently under its policy: %d pixels differ (something it needs was refused)", differ)
		}
	}
}

func pixelsDiffer(t *testing.T, a, b string) int {
	t.Helper()
	decode := func(p string) image.Image {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	ia, ib := decode(a), decode(b)
	if ia.Bounds() != ib.Bounds() {
		return ia.Bounds().Dx() * ia.Bounds().Dy()
	}
	n := 0
	for y := ia.Bounds().Min.Y; y < ia.Bounds().Max.Y; y++ {
		for x := ia.Bounds().Min.X; x < ia.Bounds().Max.X; x++ {
			if ia.At(x, y) != ib.At(x, y) {
				n++
			}
		}
	}
	return n
}
