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
