package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	// Registers the "host-dirs" repairer, as the relapse binary does.
	_ "github.com/relapse-dev/relapse/harness/cluster/bare"
	"github.com/relapse-dev/relapse/harness/provision/qemu"
	"github.com/relapse-dev/relapse/harness/run"
)

// inRepairSandbox marks the re-executed test binary that runs the
// repairers: PID 1 of its own PID, mount and network namespaces, with
// /proc of that PID namespace and tmpfs over /tmp, /run and /sys/fs/cgroup.
// A repairer that slipped past its guard could kill only the sandbox's
// processes and remove only its files, never the host's.
const inRepairSandbox = "RELAPSE_TEST_REPAIR_SANDBOX"

// Forged journal entries (empty, relative, "/", out-of-tree targets) are
// refused by every repairer and leave everything alone, while the genuine
// entries beside them are repaired, through the same Repair `relapse
// repair` runs.
func TestRepairRefusesForgedJournalEntries(t *testing.T) {
	if os.Getenv(inRepairSandbox) == "1" {
		repairInSandbox(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the repairers run in private PID, mount and network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRepairRefusesForgedJournalEntries$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), inRepairSandbox+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET,
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRepairRefusesForgedJournalEntries") {
		t.Fatalf("the repair sandbox failed: %v\n%s", err, out)
	}
	t.Logf("repair sandbox:\n%s", out)
}

// forged is one journal entry a repairer must refuse, with the check that
// what it names was left alone.
type forged struct {
	kind string
	data map[string]string
}

func repairInSandbox(t *testing.T) {
	if os.Getpid() != 1 {
		t.Fatalf("not in the repair sandbox (pid %d, want 1): refusing to run repairers on the host", os.Getpid())
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""))
	// The host's files are shared with the sandbox: every mount it sees
	// becomes read-only, so a repairer that removed "/" or "." by mistake
	// fails instead. Only the mounts made below are writable.
	must(unix.MountSetattr(-1, "/", unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}))
	if err := os.WriteFile(".repair-sandbox-probe", nil, 0o600); !errors.Is(err, syscall.EROFS) {
		_ = os.Remove(".repair-sandbox-probe")
		t.Fatalf("the host's files are writable in the repair sandbox (%v): refusing to run repairers", err)
	}
	must(syscall.Mount("proc", "/proc", "proc", 0, ""))
	for _, dir := range []string{"/tmp", "/run", "/sys/fs/cgroup"} {
		must(syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"))
	}
	// Relative targets resolve in the sandbox too.
	must(os.Chdir("/tmp"))
	// Where runs and VM nodes keep their directories, private to root as
	// relapse makes them.
	runRoot, vmRoot := run.DirRoot(), qemu.VMRoot()
	for _, root := range []string{runRoot, vmRoot} {
		must(os.MkdirAll(root, 0o700))
	}
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mkdir := func(paths ...string) {
		for _, p := range paths {
			must(os.MkdirAll(p, 0o755))
		}
	}
	write := func(path, text string) {
		mkdir(filepath.Dir(path))
		must(os.WriteFile(path, []byte(text), 0o644))
	}

	// Sentinels: processes whose command lines name every forged
	// directory; a repairer that used one would kill them.
	var sentinels []*exec.Cmd
	start := func(args ...string) *exec.Cmd {
		c := exec.Command("sh", append([]string{"-c", "sleep 600; :"}, args...)...)
		must(c.Start())
		sentinels = append(sentinels, c)
		return c
	}
	defer func() {
		for _, c := range sentinels {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	bystander := start("bystander", ".", "/etc/relapse-sentinel", "docker", runRoot+"/other-run/docker", vmRoot+"/other-vm")

	// Genuine targets, each repairable.
	victimDir := filepath.Join(runRoot, "victim")
	daemonDir := filepath.Join(victimDir, "docker")
	daemon := start(daemonDir + "/dockerd.pid")
	vmDir := filepath.Join(vmRoot, "victim")
	vm := start(vmDir + "/qmp.sock")
	// A Vagrant node's libvirtd lives in its VM directory.
	libvirtDir := filepath.Join(vmRoot, "v-victim", "libvirt")
	libvirtd := start(libvirtDir + "/libvirtd.conf")
	mkdir(filepath.Join(victimDir, "rootfs"), vmDir, filepath.Join(runRoot, "keep", "sub"), "/run/relapse-created")
	write(filepath.Join(victimDir, "created-host-dirs"), "/run/relapse-created\n")
	write(filepath.Join(runRoot, "keep", "created-host-dirs"), "/\nrelative/dir\n")
	mkdir("/sys/fs/cgroup/memory/relapse-victim/child", "/sys/fs/cgroup/unified/relapse-victim")
	// What an empty or escaping cgroup name would select: the bystander.
	write("/sys/fs/cgroup/memory/user.slice/cgroup.procs", fmt.Sprintf("%d\n", bystander.Process.Pid))
	write("/sys/fs/cgroup/cgroup.subtree_control", "")
	for _, name := range []string{"relapse-victim", "other"} {
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v\n%s", name, err, out)
		}
	}
	const sysctl = "net.core.somaxconn"
	somaxconn := func() string {
		b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
		must(err)
		return strings.TrimSpace(string(b))
	}
	oldSomaxconn := somaxconn()
	must(os.WriteFile("/proc/sys/net/core/somaxconn", []byte("1234\n"), 0o644))

	genuine := []forged{
		{"daemon", map[string]string{"name": "dockerd", "dir": daemonDir}},
		{"daemon", map[string]string{"name": "libvirtd", "dir": libvirtDir}},
		{"run-dir", map[string]string{"path": victimDir}},
		{"qemu-node", map[string]string{"dir": vmDir}},
		{"cgroup", map[string]string{"name": "relapse-victim"}},
		{"netns", map[string]string{"name": "relapse-victim"}},
		{"sysctl", map[string]string{"key": sysctl, "old": oldSomaxconn, "new": "1234"}},
		{"cgroup-controllers", map[string]string{"added": "pids"}},
		{"host-dirs", map[string]string{"list": filepath.Join(victimDir, "created-host-dirs")}},
	}
	var bad []forged
	for _, dir := range []string{"", ".", "/", "docker", "/etc/relapse-sentinel", runRoot, vmRoot, runRoot + "/../etc"} {
		bad = append(bad,
			forged{"daemon", map[string]string{"name": "dockerd", "dir": dir}},
			forged{"run-dir", map[string]string{"path": dir}},
			forged{"qemu-node", map[string]string{"dir": dir}},
			forged{"vagrant-dir", map[string]string{"dir": dir}},
			forged{"runc-root", map[string]string{"binary": "/bin/true", "root": filepath.Join(runRoot, "keep")}},
			forged{"runc-root", map[string]string{"binary": filepath.Join(runRoot, "keep", "runc"), "root": dir}},
			forged{"host-dirs", map[string]string{"list": dir}},
		)
	}
	bad = append(bad,
		// A directory below a run's is a run-dir entry too (a VM cluster's
		// local copy), but not one that climbs out of the run tree.
		forged{"run-dir", map[string]string{"path": runRoot + "/keep/../../vm"}},
		forged{"qemu-node", map[string]string{"dir": vmRoot}},
		forged{"host-dirs", map[string]string{"list": filepath.Join(runRoot, "keep", "created-host-dirs")}},
		forged{"sysctl", map[string]string{"key": "", "old": "1"}},
		forged{"sysctl", map[string]string{"key": "..", "old": "1"}},
		forged{"sysctl", map[string]string{"key": sysctl, "old": ""}},
		forged{"cgroup-controllers", map[string]string{"added": ""}},
		forged{"cgroup-controllers", map[string]string{"added": "../../memory"}},
	)
	for _, name := range []string{"", ".", "..", "/", "other", "user.slice", "relapse-", "relapse-x/../..", "../user.slice"} {
		bad = append(bad,
			forged{"cgroup", map[string]string{"name": name}},
			forged{"netns", map[string]string{"name": name}})
	}

	// Entries are written as a crashed run leaves them: JSON files in the
	// journal, owned by no live process.
	journal := filepath.Join(state, "journal")
	mkdir(journal)
	isForged := map[string]bool{}
	writeEntry := func(i int, f forged, forgedOne bool) {
		e := run.Entry{ID: fmt.Sprintf("crashed-%06d-%s", i, f.kind), Kind: f.kind, Node: "local", RunID: "crashed",
			Created: time.Now().UTC(), Data: f.data}
		data, err := json.Marshal(e)
		must(err)
		must(os.WriteFile(filepath.Join(journal, e.ID+".json"), data, 0o600))
		isForged[e.ID] = forgedOne
	}
	for i, f := range bad {
		writeEntry(i, f, true)
	}
	for i, f := range genuine {
		writeEntry(len(bad)+i, f, false)
	}

	done, err := Repair(ctx, state)
	if err == nil {
		t.Errorf("Repair with forged entries = nil error, want the refusals joined")
	}
	if len(done) != len(bad)+len(genuine) {
		t.Errorf("Repair handled %d entries, want %d", len(done), len(bad)+len(genuine))
	}
	for _, r := range done {
		_, statErr := os.Stat(filepath.Join(journal, r.Entry.ID+".json"))
		switch {
		case isForged[r.Entry.ID] && !strings.Contains(r.Error, "refusing to"):
			t.Errorf("forged %s entry %v: note %q, error %q; want a refusal", r.Entry.Kind, r.Entry.Data, r.Note, r.Error)
		case isForged[r.Entry.ID] && statErr != nil:
			t.Errorf("forged %s entry %v left the journal: %v", r.Entry.Kind, r.Entry.Data, statErr)
		case !isForged[r.Entry.ID] && r.Error != "":
			t.Errorf("genuine %s entry %v: %s", r.Entry.Kind, r.Entry.Data, r.Error)
		case !isForged[r.Entry.ID] && statErr == nil:
			t.Errorf("genuine %s entry %v stays in the journal after its repair", r.Entry.Kind, r.Entry.Data)
		}
	}

	// Everything forged entries named is still there.
	if s := procState(bystander.Process.Pid); s == "" || s == "Z" {
		t.Errorf("the bystander process (its command line names every forged directory) was killed: state %q", s)
	}
	for _, p := range []string{filepath.Join(runRoot, "keep", "sub"), "/sys/fs/cgroup/memory/user.slice/cgroup.procs", "/etc/passwd"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s, named by a forged entry, is gone: %v", p, err)
		}
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); !strings.Contains(string(out), "other") {
		t.Errorf("network namespace \"other\" was deleted; ip netns list:\n%s", out)
	}

	// Everything genuine entries named is repaired.
	for name, c := range map[string]*exec.Cmd{"daemon": daemon, "VM": vm, "libvirtd": libvirtd} {
		if s := procState(c.Process.Pid); s != "" && s != "Z" {
			t.Errorf("the %s process under its directory survived repair: state %q", name, s)
		}
	}
	for _, p := range []string{victimDir, vmDir, "/run/relapse-created", "/sys/fs/cgroup/memory/relapse-victim", "/sys/fs/cgroup/unified/relapse-victim"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s, named by a genuine entry, is still there", p)
		}
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "relapse-victim") {
		t.Errorf("network namespace relapse-victim survived repair; ip netns list:\n%s", out)
	}
	if got := somaxconn(); got != oldSomaxconn {
		t.Errorf("%s = %s after repair, want %s restored", sysctl, got, oldSomaxconn)
	}
	if b, _ := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control"); string(b) != "-pids\n" {
		t.Errorf("cgroup.subtree_control got %q, want only the genuine entry's \"-pids\"", b)
	}
}

// procState is the state letter of a process ("" when it is gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return ""
}
