package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
