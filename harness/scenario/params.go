package scenario

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Param is a scenario setting a user may change. Build one with IntParam,
// DurationParam, ChoiceParam, BoolParam or StringParam: each validates
// what it accepts, so a value that does not parse is a usage error before
// anything runs, and Values' typed getters never see a bad one.
type Param struct {
	Name    string
	Default string
	Help    string
	// Valid checks a value and says what would be right.
	Valid func(string) error
	// kind is what Values' getter may read it as.
	kind paramKind
}

type paramKind int

const (
	kindString paramKind = iota
	kindInt
	kindDuration
	kindBool
)

func (p Param) check(v string) error {
	if p.Valid == nil {
		return nil
	}
	return p.Valid(v)
}

// IntParam accepts integers from lo to hi.
func IntParam(name string, def, lo, hi int, help string) Param {
	return Param{Name: name, Default: strconv.Itoa(def), Help: help, Valid: IntIn(lo, hi), kind: kindInt}
}

// DurationParam accepts Go durations ("20s", "5m"); zero only when
// allowZero.
func DurationParam(name, def string, allowZero bool, help string) Param {
	valid := Duration
	if allowZero {
		valid = NonNegativeDuration
	}
	return Param{Name: name, Default: def, Help: help, Valid: valid, kind: kindDuration}
}

// ChoiceParam accepts one of the given values.
func ChoiceParam(name, def, help string, choices ...string) Param {
	return Param{Name: name, Default: def, Help: help, Valid: OneOf(choices...), kind: kindString}
}

// BoolParam accepts true or false.
func BoolParam(name string, def bool, help string) Param {
	return Param{Name: name, Default: strconv.FormatBool(def), Help: help, Valid: OneOf("true", "false"), kind: kindBool}
}

// StringParam accepts what valid accepts (anything, when nil).
func StringParam(name, def, help string, valid func(string) error) Param {
	return Param{Name: name, Default: def, Help: help, Valid: valid, kind: kindString}
}

// Values are a run's validated parameters. The getters panic on a name
// the scenario did not declare with that type: a programming error, which
// the scenarios' unit tests catch, never a user's.
type Values struct {
	m      map[string]string
	params map[string]Param
}

// ValuesOf makes Values from raw strings without validation, for tests of
// pure decision logic.
func ValuesOf(m map[string]string) Values { return Values{m: m} }

func (v Values) raw(name string, kind paramKind) string {
	s, ok := v.m[name]
	if !ok {
		panic(fmt.Sprintf("scenario parameter %q is not declared", name))
	}
	if p, declared := v.params[name]; declared && p.kind != kind && kind != kindString {
		panic(fmt.Sprintf("scenario parameter %q is not declared with that type", name))
	}
	return s
}

// String is the parameter's value as given.
func (v Values) String(name string) string { return v.raw(name, kindString) }

// Optional is a string parameter's value, or fallback when the scenario
// did not declare it: for kits shared by scenarios of which only some
// declare it (a cluster's CNI and runtime).
func (v Values) Optional(name, fallback string) string {
	if s, ok := v.m[name]; ok {
		return s
	}
	return fallback
}

// Int is an IntParam's value.
func (v Values) Int(name string) int {
	n, err := strconv.Atoi(v.raw(name, kindInt))
	if err != nil {
		panic(fmt.Sprintf("scenario parameter %q: %v", name, err))
	}
	return n
}

// Duration is a DurationParam's value.
func (v Values) Duration(name string) time.Duration {
	d, err := time.ParseDuration(v.raw(name, kindDuration))
	if err != nil {
		panic(fmt.Sprintf("scenario parameter %q: %v", name, err))
	}
	return d
}

// Bool is a BoolParam's value.
func (v Values) Bool(name string) bool { return v.raw(name, kindBool) == "true" }

// Map is every value as a string, for reports and plan checks.
func (v Values) Map() map[string]string {
	out := make(map[string]string, len(v.m))
	for k, s := range v.m {
		out[k] = s
	}
	return out
}

// Names lists the parameters, sorted.
func (v Values) Names() []string {
	names := make([]string, 0, len(v.m))
	for k := range v.m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// OneOf accepts exactly the given values.
func OneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("want one of %s", strings.Join(values, ", "))
	}
}

// IntIn accepts integers in [lo, hi].
func IntIn(lo, hi int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want an integer from %d to %d", lo, hi)
		}
		return nil
	}
}

// Duration accepts positive Go durations.
func Duration(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration such as 20s or 1m")
	}
	return nil
}

// NonNegativeDuration accepts zero or positive Go durations.
func NonNegativeDuration(v string) error {
	if d, err := time.ParseDuration(v); err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 0s, 30s or 5m")
	}
	return nil
}
