package chaos

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// params reads a fault's parameters back (a kind's Parse), collecting
// what is wrong so one error names every bad or missing parameter and
// what would be right.
type params struct {
	kind string
	p    map[string]string
	errs []string
}

// readParams starts reading p for kind; keys are every parameter the
// kind knows, so an unknown one (a typo in a replayed schedule) is named.
func readParams(kind string, p map[string]string, keys ...string) *params {
	r := &params{kind: kind, p: p}
	for k := range p {
		if !slices.Contains(keys, k) {
			r.fail("unknown parameter %q (known: %s)", k, strings.Join(keys, ", "))
		}
	}
	return r
}

func (r *params) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// get is a required parameter's value.
func (r *params) get(key string) (string, bool) {
	v, ok := r.p[key]
	if !ok {
		r.fail("missing parameter %q", key)
	}
	return v, ok
}

// integer reads key as an integer in [lo, hi].
func (r *params) integer(key string, lo, hi int) int {
	v, ok := r.get(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail("%s=%q: want an integer from %d to %d", key, v, lo, hi)
	}
	return n
}

// duration reads key as a Go duration in [lo, hi].
func (r *params) duration(key string, lo, hi time.Duration) time.Duration {
	v, ok := r.get(key)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.fail("%s=%q: want a duration from %s to %s (such as %s)", key, v, lo, hi, lo)
	}
	return d
}

// choice reads key as one of choices.
func (r *params) choice(key string, choices ...string) string {
	v, ok := r.get(key)
	if ok && !slices.Contains(choices, v) {
		r.fail("%s=%q: want one of %s", key, v, strings.Join(choices, ", "))
	}
	return v
}

// matching reads key as a string matching re, described by want.
func (r *params) matching(key string, re *regexp.Regexp, want string) string {
	v, ok := r.get(key)
	if ok && !re.MatchString(v) {
		r.fail("%s=%q: want %s", key, v, want)
	}
	return v
}

// err is the collected error, nil when every parameter was right.
func (r *params) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("fault %s: %s", r.kind, strings.Join(r.errs, "; "))
}

// pick draws one of choices.
func pick[T any](rng *rand.Rand, choices ...T) T { return choices[rng.IntN(len(choices))] }
