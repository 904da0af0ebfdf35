package chaos

import (
	"math/rand/v2"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relapse-dev/relapse/harness/evidence"
)

// The generic kinds the explorer composes (issue 26 item 2), each
// registered once.
func TestEveryGenericKindIsRegistered(t *testing.T) {
	var got []string
	for _, k := range FaultKinds() {
		got = append(got, k.Kind)
	}
	want := []string{"dbus-load", "kill", "pipe-pages", "pressure", "runtime-wrapper", "strace-delay", "strace-error"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("fault kind %s is not registered (have %v)", w, got)
		}
	}
}

// Every drawn fault's Params read back through ParseFault to the same
// fault with the same Params, over many seeds: a report's schedule
// replays exactly what ran.
func TestDrawnFaultsRoundTrip(t *testing.T) {
	for _, k := range FaultKinds() {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 200 {
			f := k.Draw(rng)
			if f.Kind() != k.Kind {
				t.Fatalf("%s drew a fault of kind %s", k.Kind, f.Kind())
			}
			back, err := ParseFault(f.Kind(), f.Params())
			if err != nil {
				t.Fatalf("%s draw %d: Parse(%v): %v", k.Kind, i, f.Params(), err)
			}
			if !reflect.DeepEqual(back, f) || !reflect.DeepEqual(back.Params(), f.Params()) {
				t.Fatalf("%s draw %d: %#v read back as %#v", k.Kind, i, f, back)
			}
		}
	}
}

// The same seed draws the same faults on every call; another seed draws
// others (a Draw that ignores rng would pass the first half alone).
func TestDrawIsSeeded(t *testing.T) {
	draw := func(k FaultKind, seed uint64) []map[string]string {
		rng := rand.New(rand.NewPCG(seed, 7))
		var out []map[string]string
		for range 30 {
			out = append(out, k.Draw(rng).Params())
		}
		return out
	}
	for _, k := range FaultKinds() {
		a, b, c := draw(k, 42), draw(k, 42), draw(k, 43)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: seed 42 drew %v, then %v", k.Kind, a, b)
		}
		if reflect.DeepEqual(a, c) {
			t.Errorf("%s: seeds 42 and 43 drew the same 30 faults %v", k.Kind, a)
		}
	}
}

// A bad parameter is named with what would be right; every bad one of a
// fault is named at once.
func TestParseNamesWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		kind   string
		params map[string]string
		want   []string
	}{
		{"pipe-pages", map[string]string{"pages": "-1"}, []string{`pages="-1": want an integer from 0 to 1048576`}},
		{"pipe-pages", map[string]string{"pages": "1", "page": "2"}, []string{`unknown parameter "page" (known: pages)`}},
		{"dbus-load", map[string]string{}, []string{`missing parameter "rate"`}},
		{"pressure", map[string]string{"cpu": "0", "vm": "0", "io": "0", "vm-bytes": "64M"}, []string{"want at least one worker"}},
		{"pressure", map[string]string{"cpu": "1", "vm": "1", "io": "0", "vm-bytes": "lots"}, []string{`vm-bytes="lots": want a size such as 64M`}},
		{"strace-delay", map[string]string{"on": "kernel", "syscall": "umount2", "when": "0", "delay": "1h"},
			[]string{`on="kernel": want one of daemon, shims, runc`, `when="0": want strace's when`, `delay="1h": want a duration from 1µs to 1m0s`}},
		{"strace-error", map[string]string{"on": "shims", "syscall": "Umount2;rm", "when": "1+", "errno": "EWHAT"},
			[]string{`syscall="Umount2;rm": want a system call's name`, `errno="EWHAT": want one of EIO`}},
		{"runtime-wrapper", map[string]string{"subcommand": "create", "action": "fail", "exit": "1", "delay": "1s"}, []string{"delay is for action=delay, not fail"}},
		{"runtime-wrapper", map[string]string{"subcommand": "pause", "action": "delay", "delay": "1s"}, []string{`subcommand="pause": want one of create, start, exec, delete, kill`}},
		{"kill", map[string]string{"victim": "daemon", "signal": "KILL", "at": "appears"}, []string{"a daemon does not appear while armed"}},
		{"kill", map[string]string{"victim": "shim", "signal": "STOP", "at": "now", "creates": "3"}, []string{`signal="STOP": want one of KILL, TERM, INT, QUIT`, "creates is for at=creates, not now"}},
		{"nonesuch", nil, []string{`unknown fault kind "nonesuch" (known: [dbus-load kill`}},
	} {
		_, err := ParseFault(c.kind, c.params)
		if err == nil {
			t.Errorf("%s %v: parsed", c.kind, c.params)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s %v: error %q does not say %q", c.kind, c.params, err, w)
			}
		}
	}
}

// strace's injection spec and command line are what its manual asks for.
func TestStraceCommandLine(t *testing.T) {
	d := StraceFault{On: "shims", Syscall: "umount2", Delay: 200 * time.Millisecond, When: "1+"}
	e := StraceFault{On: "daemon", Syscall: "openat", Errno: "EMFILE", When: "2+5"}
	if got := d.inject(); got != "inject=umount2:delay_enter=200000:when=1+" {
		t.Errorf("delay inject = %s", got)
	}
	if got := e.inject(); got != "inject=openat:error=EMFILE:when=2+5" {
		t.Errorf("error inject = %s", got)
	}
	argv := strings.Join(d.straceArgv("/usr/bin/strace", straceLog("/run/relapse/run/x/strace-delay-1")), " ")
	if argv != "/usr/bin/strace -f -b execve -qq -A -o /run/relapse/run/x/strace-delay-1/strace.log -e trace=umount2 -e signal=none -e inject=umount2:delay_enter=200000:when=1+" {
		t.Errorf("strace argv = %s", argv)
	}
	// A reproducer runs the same strace and waits as Arm does.
	want := []string{
		"TRACEE=$SHIM",
		`strace -f -b execve -qq -A -o strace-7.log -e trace=umount2 -e signal=none -e inject=umount2:delay_enter=200000:when=1+ -p "$TRACEE" &  # the fault`,
		`timeout 30 sh -c "until grep -Eq '^TracerPid:[[:space:]]+[1-9]' /proc/$TRACEE/status; do sleep 0.1; done"`,
	}
	got := d.Reproducer("$SHIM", "strace-7.log")
	if !slices.Equal(got, want) {
		t.Errorf("Reproducer = %q, want %q", got, want)
	}
	// The pid may be an expression of the script's own variables (the
	// shim of $POD): the script's shell expands it, also inside the wait.
	script := "POD=4242\n" + d.Reproducer(`$(echo "$POD")`, "x.log")[0] + "\necho \"$TRACEE\""
	if out, err := exec.Command("sh", "-c", script).Output(); err != nil || strings.TrimSpace(string(out)) != "4242" {
		t.Errorf("the reproducer's pid line in sh gave %q (%v), want 4242", out, err)
	}
}

// What a fault needs follows its parameters.
func TestNeedsOf(t *testing.T) {
	for _, c := range []struct {
		f    Fault
		want []string
	}{
		{PipePages{Pages: 1}, nil},
		{WrapperFault{Subcommand: "create", Action: "delay", Delay: time.Second}, []string{NeedWrapper}},
		{StraceFault{On: "daemon", Syscall: "write", Delay: time.Millisecond, When: "1+"}, []string{NeedDaemon}},
		{StraceFault{On: "runc", Syscall: "write", Errno: "EIO", When: "1"}, []string{NeedWrapper}},
		{KillFault{Victim: "runc-init", Signal: "KILL", At: "appears"}, []string{NeedShims}},
		{KillFault{Victim: "daemon", Signal: "KILL", At: "creates", Creates: 2}, []string{NeedDaemon, NeedWrapper}},
	} {
		if got := NeedsOf(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("NeedsOf(%#v) = %v, want %v", c.f, got, c.want)
		}
	}
}

// The kill's victims: the daemon, the shims but the daemon, and the runc
// inits below either, never a runc init of another engine on the host.
func TestVictimsAmong(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	procs := []evidence.Process{
		{PID: 10, PPID: 1, Cmdline: []string{"containerd"}, Started: at(1)},
		{PID: 20, PPID: 1, Cmdline: []string{"containerd-shim-runc-v2", "-id", "a"}, Started: at(3)},
		{PID: 21, PPID: 1, Cmdline: []string{"containerd-shim-runc-v2", "-id", "b"}, Started: at(2)},
		{PID: 30, PPID: 20, Cmdline: []string{"runc", "create", "a"}, Started: at(4)},
		{PID: 31, PPID: 30, Cmdline: []string{"runc", "init"}, Started: at(5)},
		{PID: 32, PPID: 21, Cmdline: []string{"runc", "init"}, Started: at(4)},
		{PID: 33, PPID: 21, Cmdline: []string{"runc", "init"}, State: "Z", Started: at(4)},
		{PID: 40, PPID: 1, Cmdline: []string{"runc", "init"}, Started: at(6)}, // another engine's
	}
	pids := func(ps []evidence.Process) []int {
		var out []int
		for _, p := range ps {
			out = append(out, p.PID)
		}
		return out
	}
	roots := []int{10, 20, 21}
	for victim, want := range map[string][]int{"daemon": {10}, "shim": {21, 20}, "runc-init": {32, 31}} {
		if got := pids(victimsAmong(procs, victim, roots, 10)); !reflect.DeepEqual(got, want) {
			t.Errorf("victims %s = %v, want %v (oldest first)", victim, got, want)
		}
	}
}
