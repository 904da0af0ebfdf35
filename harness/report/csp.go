package report

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"regexp"
	"strings"
)

// A report is attached to public issues and opened from disk: its
// Content-Security-Policy lets it load nothing and run only its own
// inline CSS and script, each allowed by its hash (no 'unsafe-inline'),
// so text that slipped into it could neither run nor fetch anything.

var (
	inlineStyle  = regexp.MustCompile(`(?s)<style[^>]*>(.*?)</style>`)
	inlineScript = regexp.MustCompile(`(?s)<script[^>]*>(.*?)</script>`)
	// styleAttr matches the style attributes the template writes; values
	// from a report are escaped, so no report text can make one.
	styleAttr = regexp.MustCompile(`\sstyle=(?:"([^"]*)"|'([^']*)')`)
)

// contentSecurityPolicy is the policy for a rendered page: the hashes of
// its <style> and <script> elements and of its style attributes (allowed
// through 'unsafe-hashes', which admits those exact values only).
func contentSecurityPolicy(page []byte) string {
	var styles, scripts []string
	for _, m := range inlineStyle.FindAllSubmatch(page, -1) {
		styles = appendHash(styles, string(m[1]))
	}
	var attrs []string
	for _, m := range styleAttr.FindAllSubmatch(page, -1) {
		// The browser hashes the attribute's value after decoding entities.
		attrs = appendHash(attrs, html.UnescapeString(string(m[1])+string(m[2])))
	}
	if len(attrs) > 0 {
		styles = append(append(styles, "'unsafe-hashes'"), attrs...)
	}
	for _, m := range inlineScript.FindAllSubmatch(page, -1) {
		scripts = appendHash(scripts, string(m[1]))
	}
	policy := []string{"default-src 'none'", "base-uri 'none'", "form-action 'none'"}
	if len(styles) > 0 {
		policy = append(policy, "style-src "+strings.Join(styles, " "))
	}
	if len(scripts) > 0 {
		policy = append(policy, "script-src "+strings.Join(scripts, " "))
	}
	return strings.Join(policy, "; ")
}

// appendHash adds the CSP source of text's SHA-256, once.
func appendHash(sources []string, text string) []string {
	sum := sha256.Sum256([]byte(text))
	src := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	for _, s := range sources {
		if s == src {
			return sources
		}
	}
	return append(sources, src)
}
