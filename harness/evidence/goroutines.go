package evidence

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// GoroutineGroup is goroutines of a Go program's dump with the same stack.
type GoroutineGroup struct {
	Count int
	// State is the wait reason of the dump's header ("semacquire", "IO wait").
	State string
	// Frames are the functions, innermost first, without arguments.
	Frames []string
	// Example is one goroutine of the group as the dump printed it.
	Example string
}

// Blocked says whether the group waits on a lock, where deadlocks live.
func (g GoroutineGroup) Blocked() bool {
	if g.State == "semacquire" || strings.HasPrefix(g.State, "sync.") {
		return true
	}
	for _, f := range g.Frames {
		if strings.HasPrefix(f, "sync.(*Mutex).Lock") || strings.HasPrefix(f, "sync.(*RWMutex).") {
			return true
		}
	}
	return false
}

var (
	goroutineHeader = regexp.MustCompile(`^goroutine \d+ \[([^\],]+)`)
)

// withoutArgs drops a frame's argument list (the last parenthesised group),
// which differs between goroutines with the same stack.
func withoutArgs(frame string) string {
	if !strings.HasSuffix(frame, ")") {
		return frame
	}
	depth := 0
	for i := len(frame) - 1; i >= 0; i-- {
		switch frame[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return frame[:i] + "(…)"
			}
		}
	}
	return frame
}

// GroupGoroutines groups a goroutine dump (debug=2) by stack: lock waiters
// first, then by size.
func GroupGoroutines(dump string) []GoroutineGroup {
	byKey := map[string]*GoroutineGroup{}
	var order []string
	for _, g := range strings.Split(strings.TrimSpace(dump), "\n\n") {
		lines := strings.Split(strings.TrimSpace(g), "\n")
		m := goroutineHeader.FindStringSubmatch(lines[0])
		if m == nil {
			continue
		}
		var frames []string
		for _, l := range lines[1:] {
			if l == "" || strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "created by ") {
				continue
			}
			frames = append(frames, withoutArgs(l))
		}
		key := m[1] + "\n" + strings.Join(frames, "\n")
		grp, ok := byKey[key]
		if !ok {
			grp = &GoroutineGroup{State: m[1], Frames: frames, Example: g}
			byKey[key] = grp
			order = append(order, key)
		}
		grp.Count++
	}
	out := make([]GoroutineGroup, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Blocked() != out[j].Blocked() {
			return out[i].Blocked()
		}
		return out[i].Count > out[j].Count
	})
	return out
}

// SummarizeGoroutines is a dump grouped by stack, lock waiters first, each
// group one line of its innermost frames, at most maxGroups groups.
func SummarizeGoroutines(dump string, maxGroups int) string {
	groups := GroupGoroutines(dump)
	total := 0
	for _, g := range groups {
		total += g.Count
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d goroutines in %d distinct stacks; those waiting on a lock first:\n", total, len(groups))
	for i, g := range groups {
		if i == maxGroups {
			fmt.Fprintf(&b, "… %d more stacks (the full dump is in the file)\n", len(groups)-i)
			break
		}
		frames := g.Frames
		if len(frames) > 6 {
			frames = append(frames[:6:6], "…")
		}
		mark := " "
		if g.Blocked() {
			mark = "!"
		}
		fmt.Fprintf(&b, "%s %4d × [%s] %s\n", mark, g.Count, g.State, strings.Join(frames, " ← "))
	}
	return b.String()
}
