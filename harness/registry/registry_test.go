package registry

import (
	"strings"
	"testing"
)

type thing string

func (t thing) Name() string { return string(t) }

func TestSet(t *testing.T) {
	s := New("widget", thing("b"), thing("a"))
	if got := strings.Join(s.Names(), ","); got != "a,b" {
		t.Errorf("Names = %s", got)
	}
	if it, err := s.Lookup("a"); err != nil || it != "a" {
		t.Errorf("Lookup(a) = %v, %v", it, err)
	}
	if _, err := s.Lookup("c"); err == nil || err.Error() != `unknown widget "c": known widgets are a, b` {
		t.Errorf("Lookup(c) err = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("adding a name twice must panic")
		}
	}()
	s.Add(thing("a"))
}

// An alias finds its item, and lists nothing of its own.
func TestAlias(t *testing.T) {
	s := New[thing]("scenario", "cve-2024-21626")
	s.Alias("leaky-vessels", "cve-2024-21626")
	if it, err := s.Lookup("leaky-vessels"); err != nil || it != "cve-2024-21626" {
		t.Errorf("Lookup(alias) = %v, %v", it, err)
	}
	if names := s.Names(); len(names) != 1 {
		t.Errorf("Names = %v, want the item once", names)
	}
	defer func() {
		if recover() == nil {
			t.Error("an alias that is an item's name must panic")
		}
	}()
	s.Alias("cve-2024-21626", "cve-2024-21626")
}
