package report

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
)

// TestGrid's reading of a JUnit file, mirrored from its published parser
// (GoogleCloudPlatform/testgrid metadata/junit) as structs of our own: a
// testcase holds at most ONE failure (encoding/xml keeps the last of
// several elements decoded into one pointer), and properties are read from
// the testcase; a testsuite's properties are not read at all.
type tgSuites struct {
	Suites []tgSuite `xml:"testsuite"`
}

type tgSuite struct {
	Name    string     `xml:"name,attr"`
	Results []tgResult `xml:"testcase"`
}

type tgResult struct {
	Name       string        `xml:"name,attr"`
	ClassName  string        `xml:"classname,attr"`
	Errored    *tgOutcome    `xml:"error"`
	Failure    *tgOutcome    `xml:"failure"`
	Skipped    *tgOutcome    `xml:"skipped"`
	Properties *tgProperties `xml:"properties"`
}

type tgOutcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Value   string `xml:",chardata"`
}

type tgProperties struct {
	List []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"property"`
}

// outcomeCount counts a testcase's outcome elements, which TestGrid's
// structs cannot: more than one would mean it shows only the last.
type outcomeCount struct {
	Suites []struct {
		Cases []struct {
			Failures []struct{} `xml:"failure"`
			Errors   []struct{} `xml:"error"`
			Skipped  []struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitAsTestGridReadsIt(t *testing.T) {
	both := mismatchReport() // contradicts the range AND left a sysctl changed
	hostOnly := notReproducedReport()
	hostOnly.Changes[0].Restored, hostOnly.Changes[0].After = false, "1"
	tests := []struct {
		name        string
		report      *Report
		wantType    string
		wantPrefix  string
		wantAlso    string
		wantVerdict string
	}{
		{"a relapse that also left a host change shows the contradiction first", both, JUnitContradiction,
			"got NOT REPRODUCED, expected REPRODUCED", "was not put back", "NOT REPRODUCED"},
		{"a host change alone", hostOnly, JUnitNotRestored, "sysctl ", "", "NOT REPRODUCED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := MarshalJUnit(tt.report)
			if err != nil {
				t.Fatal(err)
			}
			validateJUnit(t, data)
			var count outcomeCount
			if err := xml.Unmarshal(data, &count); err != nil {
				t.Fatal(err)
			}
			for _, s := range count.Suites {
				for _, c := range s.Cases {
					if n := len(c.Failures) + len(c.Errors) + len(c.Skipped); n > 1 {
						t.Errorf("a testcase has %d outcome elements; TestGrid keeps one:\n%s", n, data)
					}
				}
			}
			var doc tgSuites
			if err := xml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Suites) != 1 || len(doc.Suites[0].Results) != 1 {
				t.Fatalf("want one testcase, got %+v", doc)
			}
			r := doc.Suites[0].Results[0]
			if r.Failure == nil {
				t.Fatalf("TestGrid sees no failure in\n%s", data)
			}
			if r.Failure.Type != tt.wantType || !strings.HasPrefix(r.Failure.Message, tt.wantPrefix) || !strings.Contains(r.Failure.Message, tt.wantAlso) {
				t.Errorf("TestGrid's failure is %q: %q; want type %s, starting %q, saying %q", r.Failure.Type, r.Failure.Message, tt.wantType, tt.wantPrefix, tt.wantAlso)
			}
			if r.Properties == nil {
				t.Fatalf("no <properties> on the testcase: TestGrid reads none from the testsuite\n%s", data)
			}
			props := map[string]string{}
			for _, p := range r.Properties.List {
				if _, dup := props[p.Name]; dup {
					t.Errorf("property %s twice", p.Name)
				}
				props[p.Name] = p.Value
			}
			if props["verdict"] != tt.wantVerdict {
				t.Errorf("property verdict %q, want %q", props["verdict"], tt.wantVerdict)
			}
			// TestGrid makes a property a metric when its value is a number.
			for _, k := range []string{"k", "n", "rate_lo", "rate_hi"} {
				if _, err := strconv.ParseFloat(props[k], 64); err != nil {
					t.Errorf("property %s = %q: want a number TestGrid can chart", k, props[k])
				}
			}
			if props["k"] != strconv.Itoa(tt.report.Verdict.Rate.K) || props["n"] != strconv.Itoa(tt.report.Verdict.Rate.N) {
				t.Errorf("k, n = %s, %s; want %d, %d", props["k"], props["n"], tt.report.Verdict.Rate.K, tt.report.Verdict.Rate.N)
			}
		})
	}
}
