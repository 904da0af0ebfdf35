package report

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/relapse-dev/relapse/harness/atomicfile"
	"github.com/relapse-dev/relapse/harness/redact"
)

// JUnit XML, in the dialect CI systems (Jenkins, GitLab, GitHub actions
// reporters, TestGrid) read and testdata/junit.xsd describes: testsuites >
// testsuite > testcase with properties, failure, error, skipped and
// system-out. Each report is one testsuite holding one testcase.
//
// The run's facts (verdict, k, n and the interval, versions) are the
// testcase's properties, not the suite's: TestGrid reads properties from
// <testcase> only (numeric ones become its metrics) and never from
// <testsuite>.
//
// What a case says, and only that:
//   - failure: the verdict, reached from evidence, contradicts the bug's
//     affected range; or a change to the host was not put back. Both
//     reasons go into ONE <failure>, the contradiction first: TestGrid's
//     parser keeps a single <failure> per testcase (the last one), so a
//     second element would hide the first;
//   - error: relapse itself failed (setup, build, provisioning) or the run
//     was interrupted before a verdict;
//   - skipped: a requirement is missing, or the evidence decided nothing
//     (the message says how many more clean repetitions would);
//   - passed otherwise.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Hostname  string      `xml:"hostname,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	ClassName  string          `xml:"classname,attr"`
	Name       string          `xml:"name,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Failure    *junitMessage   `xml:"failure,omitempty"`
	Error      *junitMessage   `xml:"error,omitempty"`
	Skipped    *junitMessage   `xml:"skipped,omitempty"`
	SystemOut  *junitText      `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

// Failure types a CI can filter on.
const (
	JUnitContradiction = "VerdictContradictsAffectedRange"
	JUnitNotRestored   = "HostNotRestored"
	JUnitRelapseError  = "RelapseError"
	JUnitInterrupted   = "Interrupted"
)

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

// WriteJUnitSuite writes one junit.xml for a matrix of reports.
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
	return atomicfile.Write(path, data, 0o644)
}

// MarshalJUnit is the JUnit XML for reports, as WriteJUnitSuite writes it.
func MarshalJUnit(reports ...*Report) ([]byte, error) {
	return marshalJUnit(reports, nil)
}

func marshalJUnit(reports []*Report, hints []string) ([]byte, error) {
	doc := junitSuites{Name: "relapse"}
	var total float64
	for i, r := range reports {
		if r == nil {
			continue
		}
		hint := ""
		if i < len(hints) {
			hint = hints[i]
		}
		// A matrix's JUnit is made from the reports in memory: redacted
		// here as Write redacts its own (redacting twice changes nothing).
		clean := redact.Copy(*r)
		r = &clean
		c := testCase(r, hint)
		suite := junitSuite{Name: r.Scenario, Tests: 1, Time: junitSeconds(r.TimeToVerdict), Hostname: r.Node,
			Cases: []junitCase{c}}
		if suite.Name == "" {
			suite.Name = "relapse"
		}
		if !r.Started.IsZero() {
			suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
		}
		switch {
		case c.Failure != nil:
			suite.Failures = 1
		case c.Error != nil:
			suite.Errors = 1
		case c.Skipped != nil:
			suite.Skipped = 1
		}
		doc.Tests++
		doc.Failures += suite.Failures
		doc.Errors += suite.Errors
		total += r.TimeToVerdict
		doc.Suites = append(doc.Suites, suite)
	}
	doc.Time = junitSeconds(total)
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// CaseName names a report's testcase: the bug, the judged component and
// version, and what makes this run different from the scenario's default
// (engine, node, kernel, parameters), so that CI history never merges two
// different experiments.
func CaseName(r *Report) string {
	name := strings.TrimSpace(r.Bug.ID + " " + r.ComponentVersion())
	if r.Variant != "" {
		name += " [" + r.Variant + "]"
	}
	if name == "" {
		name = r.Scenario
	}
	return name
}

// testCase is one report as a testcase, with the semantics above.
func testCase(r *Report, hint string) junitCase {
	c := junitCase{ClassName: r.Scenario, Name: CaseName(r), Time: junitSeconds(r.TimeToVerdict), Properties: properties(r)}
	if c.ClassName == "" {
		c.ClassName = "relapse"
	}
	v := r.Verdict
	c.Failure = failure(r)
	if c.Failure == nil {
		switch v.Cause {
		case CauseSetup, "":
			c.Error = &junitMessage{Type: JUnitRelapseError, Message: xmlSafe(v.Reason), Text: xmlSafe(failureText(r))}
		case CauseInterrupted:
			c.Error = &junitMessage{Type: JUnitInterrupted, Message: xmlSafe(v.Reason)}
		case CauseMissing:
			c.Skipped = &junitMessage{Message: xmlSafe("missing requirements: " + strings.Join(v.Missing, "; "))}
		case CauseUndecided:
			c.Skipped = &junitMessage{Message: xmlSafe("inconclusive: " + v.Reason)}
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "verdict: %s\n", orDash(string(v.Result)))
	fmt.Fprintf(&out, "reason: %s\n", v.Reason)
	fmt.Fprintf(&out, "repetitions: %s reproduced\n", v.Rate)
	fmt.Fprintf(&out, "expected: %s (%s)\n", orDash(string(v.Expected)), v.ExpectedWhy)
	for _, m := range v.Missing {
		fmt.Fprintf(&out, "missing: %s\n", m)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&out, "finding: %s\n", f.Summary)
	}
	if r.Interrupted != "" {
		fmt.Fprintf(&out, "%s\n", r.Interrupted)
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

// failure is the case's one <failure>, or nil when it passed: every reason
// it failed, the verdict's contradiction first (it is what the run was
// for; a change not put back is a second, lesser finding), joined into
// the message and the text, typed after the first reason.
func failure(r *Report) *junitMessage {
	var f junitMessage
	var reasons []string
	var text strings.Builder
	v := r.Verdict
	if v.Cause == CauseEvidence && v.Expected != "" && !v.Matches {
		f.Type = JUnitContradiction
		reasons = append(reasons, fmt.Sprintf("got %s, expected %s: %s", v.Result, v.Expected, v.Reason))
		text.WriteString(failureText(r))
	}
	for _, ch := range r.Unrestored() {
		if f.Type == "" {
			f.Type = JUnitNotRestored
		}
		line := fmt.Sprintf("%s %s was not put back (before %q, now %q): %s", ch.Kind, ch.Target, ch.Before, ch.After, ch.RestoreNote)
		reasons = append(reasons, line)
		fmt.Fprintf(&text, "not put back: %s\n", line)
	}
	if len(reasons) == 0 {
		return nil
	}
	f.Message = xmlSafe(strings.Join(reasons, "; and "))
	f.Text = xmlSafe(text.String())
	return &f
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

// properties are the run's facts a CI can chart, as the testcase's
// properties: the verdict, its cause, the rate with its interval (numbers,
// so TestGrid charts them as metrics), every version, the node.
func properties(r *Report) []junitProperty {
	var ps []junitProperty
	add := func(name, value string) {
		if value != "" {
			ps = append(ps, junitProperty{name, xmlSafe(value)})
		}
	}
	v := r.Verdict
	add("run_id", r.RunID)
	add("bug", r.Bug.ID)
	add("fix", r.Bug.Fix)
	add("verdict", string(v.Result))
	add("cause", v.Cause)
	add("expected", string(v.Expected))
	add("component", v.Component)
	add("version", v.Version)
	add("k", strconv.Itoa(v.Rate.K))
	add("n", strconv.Itoa(v.Rate.N))
	add("rate_lo", strconv.FormatFloat(v.Rate.Lo, 'f', 3, 64))
	add("rate_hi", strconv.FormatFloat(v.Rate.Hi, 'f', 3, 64))
	for _, a := range r.Components {
		add("version_"+a.Component, a.Version)
	}
	observed := make([]string, 0, len(r.Observed))
	for k := range r.Observed {
		observed = append(observed, k)
	}
	sort.Strings(observed)
	for _, k := range observed {
		add("version_"+k, r.Observed[k])
	}
	add("variant", r.Variant)
	add("kernel", r.Host.Kernel)
	add("provider", r.Provider)
	add("interrupted", r.Interrupted)
	return ps
}

func junitSeconds(s float64) string { return fmt.Sprintf("%.3f", s) }
