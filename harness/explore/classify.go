package explore

import (
	"github.com/relapse-dev/relapse/harness/scenario"
)

// Claim is a catalog bug that recognised a violation's evidence.
type Claim struct {
	Scenario string   `json:"scenario"`
	Bug      string   `json:"bug"`
	Title    string   `json:"title"`
	Reasons  []string `json:"reasons"`
}

// Classify asks every scenario that can recognise its bug in someone
// else's evidence (scenario.Claimer) whether o is theirs. No claim means
// the finding is new.
func Classify(o scenario.Observed, catalog []scenario.Scenario) []Claim {
	var claims []Claim
	for _, s := range catalog {
		c, ok := s.(scenario.Claimer)
		if !ok {
			continue
		}
		if mine, why := c.Claims(o); mine {
			b := s.Bug()
			claims = append(claims, Claim{Scenario: s.Name(), Bug: b.ID, Title: b.Title, Reasons: why})
		}
	}
	return claims
}

// Catalog is every registered scenario, in name order.
func Catalog() []scenario.Scenario {
	var out []scenario.Scenario
	for _, name := range scenario.Names() {
		if s, err := scenario.Lookup(name); err == nil {
			out = append(out, s)
		}
	}
	return out
}
