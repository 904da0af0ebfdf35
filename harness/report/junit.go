package report

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// JUnit XML, in the dialect CI systems (Jenkins, GitLab, GitHub actions
// reporters) read: testsuites > testsuite > testcase with failure, skipped
// and system-out.

// junitCounts are the attributes <testsuites> and <testsuite> share.
type junitCounts struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	junitCounts
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	junitCounts
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

// xmlSafe replaces the characters XML 1.0 cannot carry (control
// characters from a process's output) with U+FFFD.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}

// WriteJUnitSuite writes one junit.xml for a matrix of reports: one
// testsuite "relapse" with one testcase per report.
func WriteJUnitSuite(path string, reports []*Report) error {
	hints := make([]string, len(reports))
	for i, r := range reports {
		if r != nil && r.RunID != "" {
			hints[i] = fmt.Sprintf("report: %s (in this run's report directory, reports/%s/ by default)\nevidence (source of truth): %s",
				HTMLName, r.RunID, JSONName)
		}
	}
	data, err := marshalJUnit(reports, hints)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return writeFileAtomic(path, data)
}

// MarshalJUnit is the JUnit XML for reports (one testcase each), as
// WriteJUnitSuite writes it.
func MarshalJUnit(reports ...*Report) ([]byte, error) {
	return marshalJUnit(reports, nil)
}

func marshalJUnit(reports []*Report, hints []string) ([]byte, error) {
	suite := junitSuite{junitCounts: junitCounts{Name: "relapse"}}
	var total float64
	var first time.Time
	for i, r := range reports {
		if r == nil {
			continue
		}
		hint := ""
		if i < len(hints) {
			hint = hints[i]
		}
		c := testCase(r, hint)
		suite.Cases = append(suite.Cases, c)
		suite.Tests++
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Skipped != nil:
			suite.Skipped++
		}
		total += r.TimeToVerdict
		if !r.Started.IsZero() && (first.IsZero() || r.Started.Before(first)) {
			first = r.Started
		}
		if suite.Hostname == "" {
			suite.Hostname = r.Node
		}
	}
	if !first.IsZero() {
		suite.Timestamp = first.UTC().Format("2006-01-02T15:04:05")
	}
	suite.Time = junitSeconds(total)
	if len(reports) == 1 && reports[0] != nil {
		suite.Properties = properties(reports[0])
	}
	doc := junitSuites{junitCounts: suite.junitCounts, Suites: []junitSuite{suite}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// testCase is one report as a testcase. A verdict that does not match the
// expectation is a failure, except an INCONCLUSIVE result caused by missing
// requirements, which is a skip: the machine could not run the experiment.
func testCase(r *Report, hint string) junitCase {
	c := junitCase{
		ClassName: r.Scenario,
		Name:      strings.TrimSpace(r.Bug.ID + " " + r.ComponentVersion()),
		Time:      junitSeconds(r.TimeToVerdict),
	}
	if c.ClassName == "" {
		c.ClassName = "relapse"
	}
	if c.Name == "" {
		c.Name = c.ClassName
	}
	v := r.Verdict
	switch {
	case v.Result == Inconclusive && len(v.Missing) > 0:
		c.Skipped = &junitMessage{
			Message: xmlSafe("missing requirements: " + strings.Join(v.Missing, "; ")),
		}
	case !v.Matches:
		msg := fmt.Sprintf("got %s expected %s: %s", orDash(string(v.Result)), orDash(string(v.Expected)), v.Reason)
		c.Failure = &junitMessage{Message: xmlSafe(msg), Type: "VerdictMismatch", Text: xmlSafe(failureText(r))}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "verdict: %s\n", orDash(string(v.Result)))
	fmt.Fprintf(&out, "reason: %s\n", v.Reason)
	fmt.Fprintf(&out, "expected: %s (%s)\n", orDash(string(v.Expected)), v.ExpectedWhy)
	for _, m := range v.Missing {
		fmt.Fprintf(&out, "missing: %s\n", m)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&out, "finding: %s\n", f.Summary)
	}
	for _, ch := range r.Changes {
		if !ch.Restored && !ch.Disposable {
			fmt.Fprintf(&out, "NOT RESTORED: %s %s (before %q, now %q) %s\n", ch.Kind, ch.Target, ch.Before, ch.After, ch.RestoreNote)
		}
	}
	if r.RunID != "" {
		fmt.Fprintf(&out, "run: %s\n", r.RunID)
	}
	if hint != "" {
		out.WriteString(hint + "\n")
	}
	c.SystemOut = &junitText{Text: xmlSafe(out.String())}
	return c
}

func failureText(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", r.Bug.ID, r.Bug.Title)
	if r.Verdict.ExpectedWhy != "" {
		fmt.Fprintf(&b, "expected %s because %s\n", r.Verdict.Expected, r.Verdict.ExpectedWhy)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	return b.String()
}

func properties(r *Report) []junitProperty {
	var ps []junitProperty
	add := func(name, value string) {
		if value != "" {
			ps = append(ps, junitProperty{name, value})
		}
	}
	add("run_id", r.RunID)
	add("bug", r.Bug.ID)
	add("verdict", string(r.Verdict.Result))
	add("expected", string(r.Verdict.Expected))
	for _, a := range r.Components {
		add(a.Component, a.Version)
	}
	add("kernel", r.Host.Kernel)
	add("provider", r.Provider)
	return ps
}

func junitSeconds(s float64) string { return fmt.Sprintf("%.3f", s) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
