package browser

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PinnedFont is one font file the browser checks render with, and the
// Debian package that installs it (ci/deps.sh's test group).
type PinnedFont struct {
	Path    string
	Package string
}

// dejavu is where Debian's fonts-dejavu packages put their files.
const dejavu = "/usr/share/fonts/truetype/dejavu/"

// PinnedFonts are the only fonts Chromium sees in Inspect and Screenshot:
// DejaVu, which a fresh Debian 12 has and which is wider than what other
// packages bring, so a page that fits with it fits with the fonts a reader
// has. The condensed and extra-light faces are left out: a request for a
// family must land on the widest face, never on a narrow one a reader's
// machine may lack. Obliques have the regular faces' advances; they are
// listed so Chromium never synthesizes them.
var PinnedFonts = []PinnedFont{
	{dejavu + "DejaVuSans.ttf", "fonts-dejavu-core"},
	{dejavu + "DejaVuSans-Bold.ttf", "fonts-dejavu-core"},
	{dejavu + "DejaVuSansMono.ttf", "fonts-dejavu-core"},
	{dejavu + "DejaVuSansMono-Bold.ttf", "fonts-dejavu-core"},
	{dejavu + "DejaVuSerif.ttf", "fonts-dejavu-core"},
	{dejavu + "DejaVuSerif-Bold.ttf", "fonts-dejavu-core"},
	{dejavu + "DejaVuSans-Oblique.ttf", "fonts-dejavu-extra"},
	{dejavu + "DejaVuSans-BoldOblique.ttf", "fonts-dejavu-extra"},
	{dejavu + "DejaVuSansMono-Oblique.ttf", "fonts-dejavu-extra"},
	{dejavu + "DejaVuSansMono-BoldOblique.ttf", "fonts-dejavu-extra"},
	{dejavu + "DejaVuSerif-Italic.ttf", "fonts-dejavu-extra"},
	{dejavu + "DejaVuSerif-BoldItalic.ttf", "fonts-dejavu-extra"},
}

// fontsConf is a fontconfig configuration that knows only the fonts in
// %[1]s and resolves every family, generic or named, to DejaVu: no
// system configuration (conf.d), no user fonts, no other cache.
const fontsConf = `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir>%[1]s</dir>
  <cachedir>%[2]s</cachedir>
  <alias binding="same"><family>sans-serif</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias binding="same"><family>serif</family><prefer><family>DejaVu Serif</family></prefer></alias>
  <alias binding="same"><family>monospace</family><prefer><family>DejaVu Sans Mono</family></prefer></alias>
  <alias binding="same"><family>system-ui</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <match target="pattern"><edit name="family" mode="append_last"><string>DejaVu Sans</string></edit></match>
  <match target="font">
    <edit name="hinting" mode="assign"><bool>false</bool></edit>
    <edit name="antialias" mode="assign"><bool>true</bool></edit>
  </match>
</fontconfig>
`

// pinFonts lays out, under dir, a font directory holding links to
// PinnedFonts only and a fontconfig file naming it, and returns the
// environment that makes Chromium use it. A missing font is an error
// that names its package: the measure would otherwise depend on what
// else the machine has.
func pinFonts(dir string) ([]string, error) {
	fonts := filepath.Join(dir, "fonts")
	if err := os.MkdirAll(fonts, 0o700); err != nil {
		return nil, err
	}
	var missing []string
	for _, f := range PinnedFonts {
		if _, err := os.Stat(f.Path); err != nil {
			missing = append(missing, f.Path+" ("+f.Package+")")
			continue
		}
		if err := os.Symlink(f.Path, filepath.Join(fonts, filepath.Base(f.Path))); err != nil {
			return nil, fmt.Errorf("linking the pinned font %s: %w", f.Path, err)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the fonts the page checks measure with are missing: %s; `ci/deps.sh test` (make deps) installs them",
			strings.Join(missing, ", "))
	}
	conf := filepath.Join(dir, "fonts.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(fontsConf, fonts, filepath.Join(dir, "fontcache"))), 0o600); err != nil {
		return nil, err
	}
	// Chromium's text shaping also follows the locale; a fixed one keeps
	// the line breaks the same on every machine.
	return []string{"FONTCONFIG_FILE=" + conf, "FONTCONFIG_PATH=" + dir, "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}, nil
}
