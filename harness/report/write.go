package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/relapse-dev/relapse/harness/atomicfile"
	"github.com/relapse-dev/relapse/harness/redact"
)

// File names inside a report directory.
const (
	JSONName  = "report.json"
	HTMLName  = "report.html"
	JUnitName = "junit.xml"
	// ScriptName is the portable reproducer, when the scenario wrote one.
	ScriptName = "reproduce.sh"
)

// BundleName is the archive of a report directory, for attaching upstream.
func BundleName(r *Report) string { return "relapse-" + r.RunID + ".tar.gz" }

// Paths are the files Write produced.
type Paths struct {
	Dir   string
	JSON  string
	HTML  string
	JUnit string
	// Markdown is summary.md, for the upstream issue.
	Markdown string
	// Script is reproduce.sh ("" when the scenario wrote none).
	Script string
	// Bundle is the .tar.gz of the whole directory.
	Bundle string
}

// Write creates dir and writes report.json, report.html and junit.xml into
// it. report.json is written first: it is the source of truth, so it is on
// disk even when rendering the other two fails. Each file is written to a
// temporary name and renamed, so a reader never sees half a file.
// A zero SchemaVersion is written as SchemaVersion; r itself is not changed.
//
// Everything written is redacted first (package redact): the report's
// strings, and before the bundle every text file in dir, kind's docker
// inspect and kubeadm.conf among them. A report is attached to public
// issues and some of what it holds came from an environment.
func Write(dir string, r *Report) (Paths, error) {
	if r == nil {
		return Paths{Dir: dir}, errors.New("report: nil report")
	}
	rc := redact.Copy(*r)
	p := Paths{
		Dir:      dir,
		JSON:     filepath.Join(dir, JSONName),
		HTML:     filepath.Join(dir, HTMLName),
		JUnit:    filepath.Join(dir, JUnitName),
		Markdown: filepath.Join(dir, MarkdownName),
		Bundle:   filepath.Join(dir, BundleName(&rc)),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return p, fmt.Errorf("creating report directory: %w", err)
	}
	if rc.SchemaVersion == 0 {
		rc.SchemaVersion = SchemaVersion
	}

	data, err := EncodeJSON(&rc)
	if err != nil {
		return p, err
	}
	if err := atomicfile.Write(p.JSON, data, 0o644); err != nil {
		return p, err
	}

	var errs []error
	var html bytes.Buffer
	if err := RenderHTML(&html, &rc); err != nil {
		errs = append(errs, fmt.Errorf("rendering %s: %w", HTMLName, err))
	} else if err := atomicfile.Write(p.HTML, html.Bytes(), 0o644); err != nil {
		errs = append(errs, err)
	}
	hint := fmt.Sprintf("report: %s\nevidence (source of truth): %s", p.HTML, p.JSON)
	if x, err := marshalJUnit([]*Report{&rc}, []string{hint}); err != nil {
		errs = append(errs, fmt.Errorf("rendering %s: %w", JUnitName, err))
	} else if err := atomicfile.Write(p.JUnit, x, 0o644); err != nil {
		errs = append(errs, err)
	}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, &rc); err != nil {
		errs = append(errs, fmt.Errorf("rendering %s: %w", MarkdownName, err))
	} else if err := atomicfile.Write(p.Markdown, md.Bytes(), 0o644); err != nil {
		errs = append(errs, err)
	}
	if rc.Reproduce != "" {
		p.Script = filepath.Join(dir, ScriptName)
		if err := atomicfile.Write(p.Script, []byte(rc.Reproduce), 0o644); err != nil {
			errs = append(errs, err)
		} else if err := os.Chmod(p.Script, 0o755); err != nil {
			errs = append(errs, err)
		}
	}
	// The bundle comes last: it holds everything above, and what the run
	// saved beside it, redacted; a file that could not be is not bundled.
	if _, err := redact.Files(dir); err != nil {
		return p, errors.Join(append(errs, fmt.Errorf("the bundle is not written: %w", err))...)
	}
	if err := writeBundle(p.Bundle, dir); err != nil {
		errs = append(errs, fmt.Errorf("writing the bundle: %w", err))
	}
	return p, errors.Join(errs...)
}

// EncodeJSON is the content of report.json: r as indented JSON, with <, >
// and & left as they are so the file stays readable.
func EncodeJSON(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", JSONName, err)
	}
	return buf.Bytes(), nil
}

// Load reads a report back from report.json. path may also be the report
// directory. A report of another schema version is refused.
func Load(path string) (*Report, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, JSONName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading report %s: %w", path, err)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("report %s has schema version %d; this relapse reads version %d",
			path, r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}
