package matrix

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Cells that name versions as such are listed as they are, without asking
// the proxy; a selector for a component the scenario does not build is
// named in the error and leaves its cell unresolved.
func TestResolveSelectorsAsksOnlyForSelectors(t *testing.T) {
	cells := []Cell{
		{ID: "a", Scenario: "runc-pipe-hang", Versions: map[string]string{"runc": "rc93"}},
		{ID: "b", Scenario: "runc-pipe-hang", Versions: map[string]string{"kubelet": "latest"}},
	}
	got, err := ResolveSelectors(context.Background(), cells, time.Now())
	if err == nil || !strings.Contains(err.Error(), "cell b") || !strings.Contains(err.Error(), "builds no kubelet") {
		t.Errorf("err = %v; want cell b named with the component it does not build", err)
	}
	for _, c := range got {
		if c.Resolved != nil {
			t.Errorf("cell %s resolved to %v; nothing should have been", c.ID, c.Resolved)
		}
	}
}
