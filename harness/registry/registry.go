package registry

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Named is anything a Set holds.
type Named interface{ Name() string }

// Set is a set of named things, safe for concurrent use. What names the
// things in messages ("scenario", "node provider") is its kind.
type Set[T Named] struct {
	kind  string
	mu    sync.Mutex
	items map[string]T
	// aliases map an older name to the name an item is registered under.
	aliases map[string]string
}

// New returns a set of things of a kind, holding items.
func New[T Named](kind string, items ...T) *Set[T] {
	s := &Set[T]{kind: kind, items: map[string]T{}}
	for _, it := range items {
		s.Add(it)
	}
	return s
}

// Add puts a thing in the set; two things of one name are a programming
// error.
func (s *Set[T]) Add(it T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.items[it.Name()]; dup {
		panic(fmt.Sprintf("%s %q registered twice", s.kind, it.Name()))
	}
	s.items[it.Name()] = it
}

// Names lists the names, sorted.
func (s *Set[T]) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.items))
	for n := range s.items {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// All lists the things, sorted by name.
func (s *Set[T]) All() []T {
	var out []T
	for _, n := range s.Names() {
		it, _ := s.Get(n)
		out = append(out, it)
	}
	return out
}

// Get finds a thing by name.
func (s *Set[T]) Get(name string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if to, ok := s.aliases[name]; ok {
		name = to
	}
	it, ok := s.items[name]
	return it, ok
}

// Alias makes Get and Lookup find the item registered as name under alias
// too (an older name scripts still use); Names and All list it once,
// under name. An alias that is taken panics, as a second Add does.
func (s *Set[T]) Alias(alias, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.items[alias]; taken {
		panic(fmt.Sprintf("%s alias %q is the name of a %s", s.kind, alias, s.kind))
	}
	if _, taken := s.aliases[alias]; taken {
		panic(fmt.Sprintf("%s alias %q registered twice", s.kind, alias))
	}
	if s.aliases == nil {
		s.aliases = map[string]string{}
	}
	s.aliases[alias] = name
}

// Lookup finds a thing by name; the error names the kind and lists the
// known names.
func (s *Set[T]) Lookup(name string) (T, error) {
	if it, ok := s.Get(name); ok {
		return it, nil
	}
	var zero T
	return zero, fmt.Errorf("unknown %s %q: known %ss are %s", s.kind, name, s.kind, strings.Join(s.Names(), ", "))
}
