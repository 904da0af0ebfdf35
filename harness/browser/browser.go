package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/relapse-dev/relapse/harness/textutil"
)

// Binary finds headless Chromium.
func Binary() (string, error) {
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no headless Chromium on PATH (chromium-headless-shell or chromium): `make deps` installs Debian's")
}

// Layout is what the page measured in the browser.
type Layout struct {
	// Viewport is the window's width in CSS pixels, ScrollWidth the page's.
	Viewport    int `json:"viewport"`
	ScrollWidth int `json:"scrollWidth"`
	// Overflow describes each element wider than the window, each box
	// whose content it cuts off (a table cell whose text does not fit),
	// each absolutely placed box outside the box it is placed in, and each
	// run of text that leaves its box (its block, or for SVG text its svg
	// viewport). Collapsed <details> are opened first.
	Overflow []string `json:"overflow"`
	// Links are the href of every link, as written.
	Links []string `json:"links"`
	// TextLength is how many characters of text the page shows.
	TextLength int `json:"textLength"`
	// Elements counts the elements that have a box.
	Elements int `json:"elements"`
	// IDs are where each element with an id sits, in page coordinates.
	IDs map[string]Box `json:"ids"`
	// Requests are the resources the page loaded (images, styles,
	// scripts, fonts): a self-contained page loads none.
	Requests []string `json:"requests"`
}

// Box is an element's extent on the page, in CSS pixels.
type Box struct {
	Top    int `json:"top"`
	Bottom int `json:"bottom"`
	Left   int `json:"left"`
	Right  int `json:"right"`
}

// measure runs in the page after load and leaves its JSON in a <pre> whose
// id is assembled at run time, so the script's own text never matches it.
const measure = `<script>
(function () {
  var vw = document.documentElement.clientWidth, out = [], n = 0;
  function name(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.className && typeof el.className === 'string') s += '.' + el.className.trim().split(/\s+/).join('.');
    var t = (el.textContent || '').trim().slice(0, 40);
    return s + (t ? ' "' + t + '"' : '');
  }
  // Collapsed details would hide what overflows inside them: open all,
  // as printing does.
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  function inside(r, box) { return r.left >= box.left - 1 && r.right <= box.right + 1; }
  function span(r) { return Math.round(r.left) + '..' + Math.round(r.right) + 'px'; }
  document.body.querySelectorAll('*').forEach(function (el) {
    if (el.tagName === 'SCRIPT' || el.tagName === 'STYLE') return;
    var r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    n++;
    if (r.right > vw + 1 || r.left < -1) out.push(name(el) + ' spans ' + span(r) + ' of a ' + vw + 'px window');
    var cs = getComputedStyle(el);
    var clips = el.tagName === 'TD' || el.tagName === 'TH' || cs.overflowX === 'hidden' || cs.overflowX === 'clip';
    var ellipsis = cs.textOverflow === 'ellipsis';
    if (clips && !ellipsis && el.scrollWidth > el.clientWidth + 1) out.push(name(el) + ' holds ' + el.scrollWidth + 'px of content in ' + el.clientWidth + 'px');
    // An absolutely placed box must stay inside the box it is placed in.
    if ((cs.position === 'absolute' || cs.position === 'fixed') && el.offsetParent) {
      var pr = el.offsetParent.getBoundingClientRect();
      if (!inside(r, pr)) out.push(name(el) + ' spans ' + span(r) + ', outside ' + name(el.offsetParent) + ' at ' + span(pr));
    }
  });
  // Every run of text must stay inside its box: the nearest block (or
  // inline-block, cell, flex item) around it, or for SVG text the nearest
  // svg viewport, which is where absolutely placed labels live. Text that
  // scrolls in its box, or that the box ellipsizes, is the box's design.
  function boxOf(node) {
    var el = node.parentElement;
    if (el instanceof SVGElement) return el.ownerSVGElement ? {el: el.ownerSVGElement, svg: true} : null;
    for (; el && el !== document.body; el = el.parentElement) {
      var cs = getComputedStyle(el);
      if (cs.display !== 'inline' && cs.display !== 'contents') return {el: el, cs: cs};
    }
    return null;
  }
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), t, seen = new Set();
  while ((t = walker.nextNode())) {
    if (!t.textContent.trim() || !t.parentElement || t.parentElement.closest('script,style,pre#relapse-' + 'layout')) continue;
    var range = document.createRange();
    range.selectNodeContents(t);
    var tr = range.getBoundingClientRect();
    if (tr.width === 0 && tr.height === 0) continue;
    var b = boxOf(t);
    if (!b || seen.has(t.parentElement)) continue;
    if (!b.svg && (/^(auto|scroll)$/.test(b.cs.overflowX) || b.cs.textOverflow === 'ellipsis')) continue;
    var br = b.el.getBoundingClientRect();
    if (!b.svg) {
      // The content box: inside the padding, which text must not cross either.
      var pl = parseFloat(b.cs.paddingLeft) || 0, pr2 = parseFloat(b.cs.paddingRight) || 0;
      var bl = parseFloat(b.cs.borderLeftWidth) || 0, brw = parseFloat(b.cs.borderRightWidth) || 0;
      br = {left: br.left + bl + pl, right: br.right - brw - pr2};
    }
    if (!inside(tr, br)) {
      seen.add(t.parentElement);
      out.push('text of ' + name(t.parentElement) + ' spans ' + span(tr) + ', outside its box ' + name(b.el).split(' "')[0] + ' at ' + span(br));
    }
  }
  var ids = {};
  document.querySelectorAll('[id]').forEach(function (el) {
    var r = el.getBoundingClientRect();
    ids[el.id] = {top: Math.round(r.top + window.scrollY), bottom: Math.round(r.bottom + window.scrollY),
      left: Math.round(r.left + window.scrollX), right: Math.round(r.right + window.scrollX)};
  });
  // What the page would fetch: loaded resources, and every reference that
  // makes a browser fetch (a failed fetch leaves no timing entry).
  var requests = performance.getEntriesByType('resource').map(function (e) { return e.name; });
  document.querySelectorAll('[src]').forEach(function (e) { if (e.tagName !== 'SCRIPT' || e.src) requests.push(e.getAttribute('src')); });
  document.querySelectorAll('link[href], object[data]').forEach(function (e) { requests.push(e.getAttribute('href') || e.getAttribute('data')); });
  var css = '';
  document.querySelectorAll('style').forEach(function (e) { css += e.textContent + '\n'; });
  document.querySelectorAll('[style]').forEach(function (e) { css += e.getAttribute('style') + '\n'; });
  (css.match(/url\([^)]*\)|@import[^;]*/g) || []).forEach(function (m) { requests.push(m); });
  requests = requests.filter(function (u, i, all) { return u && u.indexOf('data:') !== 0 && u.indexOf('url(data:') !== 0 && u.indexOf('url("data:') !== 0 && all.indexOf(u) === i; });
  var links = [];
  document.querySelectorAll('a[href]').forEach(function (a) { links.push(a.getAttribute('href')); });
  var pre = document.createElement('pre');
  pre.id = 'relapse-' + 'layout';
  pre.textContent = JSON.stringify({viewport: vw, scrollWidth: document.documentElement.scrollWidth,
    overflow: out, links: links, textLength: (document.body.innerText || '').length, elements: n, ids: ids, requests: requests});
  document.body.appendChild(pre);
})();
</script>`

var (
	cspMeta  = regexp.MustCompile(`(?i)<meta[^>]+http-equiv="?Content-Security-Policy"?[^>]*>`)
	layoutRE = regexp.MustCompile(`(?s)<pre id="relapse-layout">(.*?)</pre>`)
)

// Inspect loads page at width x height and measures it.
func Inspect(ctx context.Context, page string, width, height int) (*Layout, error) {
	src, err := os.ReadFile(page)
	if err != nil {
		return nil, err
	}
	text := cspMeta.ReplaceAllString(string(src), "")
	if i := strings.LastIndex(strings.ToLower(text), "</body>"); i >= 0 {
		text = text[:i] + measure + text[i:]
	} else {
		text += measure
	}
	// The copy sits beside the page so relative URLs mean the same.
	probe, err := os.CreateTemp(filepath.Dir(page), ".relapse-measure-*.html")
	if err != nil {
		return nil, err
	}
	defer os.Remove(probe.Name())
	if _, err := probe.WriteString(text); err != nil {
		probe.Close()
		return nil, err
	}
	if err := probe.Close(); err != nil {
		return nil, err
	}
	out, err := chromium(ctx, width, height, "--dump-dom", fileURL(probe.Name()))
	if err != nil {
		return nil, err
	}
	m := layoutRE.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("chromium rendered %s but the measuring script left nothing (%d bytes of DOM)", page, len(out))
	}
	var l Layout
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &l); err != nil {
		return nil, fmt.Errorf("reading the page's measurements: %w", err)
	}
	return &l, nil
}

// Screenshot writes a PNG of page at width x height.
func Screenshot(ctx context.Context, page, pngPath string, width, height int) error {
	abs, err := filepath.Abs(pngPath)
	if err != nil {
		return err
	}
	if _, err := chromium(ctx, width, height, "--screenshot="+abs, fileURL(page)); err != nil {
		return err
	}
	if st, err := os.Stat(abs); err != nil || st.Size() == 0 {
		return fmt.Errorf("chromium wrote no screenshot of %s", page)
	}
	return nil
}

// Painted is the share of a PNG's pixels that differ from its top-left
// pixel (the background): a blank page gives 0.
func Painted(pngPath string) (float64, error) {
	f, err := os.Open(pngPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", pngPath, err)
	}
	b := img.Bounds()
	bg := img.At(b.Min.X, b.Min.Y)
	br, bgG, bb, _ := bg.RGBA()
	var differ, total int
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != br || g != bgG || bl != bb {
				differ++
			}
			total++
		}
	}
	if total == 0 {
		return 0, nil
	}
	return float64(differ) / float64(total), nil
}

// Unresolved returns the page's relative links (Layout.Links) that name no
// file beside it; fragments and absolute URLs are someone else's.
func Unresolved(page string, links []string) []string {
	var bad []string
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil {
			bad = append(bad, l+" (not a URL)")
			continue
		}
		if u.Scheme != "" || u.Host != "" || u.Path == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(page), filepath.FromSlash(u.Path))); err != nil {
			bad = append(bad, l)
		}
	}
	return bad
}

// chromium runs one headless Chromium command. Root needs --no-sandbox;
// the deadline is generous because a loaded machine slows Chromium's start
// (~2 s idle here), and a page that never loads is an error, not a hang.
// Chromium sees only the pinned fonts (pinFonts), without hinting, at one
// device pixel per CSS pixel, so a page measures the same on any machine.
func chromium(ctx context.Context, width, height int, args ...string) ([]byte, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	scratch, err := os.MkdirTemp("", "relapse-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	env, err := pinFonts(filepath.Join(scratch, "fontconfig"))
	if err != nil {
		return nil, err
	}
	full := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir=" + filepath.Join(scratch, "profile"), "--virtual-time-budget=5000",
		"--font-render-hinting=none", "--force-device-scale-factor=1", "--lang=en-US",
		fmt.Sprintf("--window-size=%d,%d", width, height)}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(withoutFontEnv(os.Environ()), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", bin, strings.Join(args, " "), err, textutil.LastLines(stderr.String(), 10))
	}
	return stdout.Bytes(), nil
}

// withoutFontEnv drops what would point fontconfig or the locale elsewhere.
func withoutFontEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "FONTCONFIG_") || strings.HasPrefix(name, "LC_") || name == "LANG" || name == "LANGUAGE" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func fileURL(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	return (&url.URL{Scheme: "file", Path: abs}).String()
}
