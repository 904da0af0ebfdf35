package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A Go program whose goroutine ends with its OS thread locked loses that
// thread, and the kernel sends every child started from it with Pdeathsig
// its signal: failing dials into a namespace once killed 5-13 of 16 such
// children. Children started from many goroutines land on every thread the
// runtime has; then many dials that fail each way must leave all of them
// alive.
func TestFailingDialsKillNoPdeathsigChild(t *testing.T) {
	const children = 16
	died := make(chan string, 2*children)
	var mu sync.Mutex
	var procs []*exec.Cmd
	startChild := func() {
		c := exec.Command("sleep", "60")
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			died <- "start: " + err.Error()
			return
		}
		mu.Lock()
		procs = append(procs, c)
		mu.Unlock()
		go func() { died <- fmt.Sprintf("child %d: %v", c.Process.Pid, c.Wait()) }()
	}
	var started sync.WaitGroup
	for i := 0; i < children; i++ {
		started.Add(1)
		go func() { defer started.Done(); startChild() }()
	}
	started.Wait()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range procs {
			_ = c.Process.Kill()
		}
	})

	ctx := context.Background()
	// A path that does not exist: the namespace cannot even be opened.
	missing := filepath.Join(t.TempDir(), "no-such-netns")
	// A file that is no namespace: setns refuses it (as root; without
	// CAP_SYS_ADMIN it refuses anyway, with EPERM).
	notNetns := "/dev/null"
	fails := []string{missing, notNetns}
	if os.Geteuid() == 0 {
		// This process's own namespace, entered and left, with a dial to a
		// port nothing listens on: the dial itself fails.
		fails = append(fails, "/proc/self/ns/net")
	}
	for i := 0; i < 300; i++ {
		// Children started between dials come from the thread the dials'
		// goroutines most likely run on next.
		if i%10 == 0 && i < 10*children {
			startChild()
		}
		ns := fails[i%len(fails)]
		conn, err := DialIn(ns)(ctx, "unix", filepath.Join(t.TempDir(), "nothing.sock"))
		if err == nil {
			conn.Close()
			t.Fatalf("dial %d into %s succeeded; want a failure", i, ns)
		}
	}
	// A thread Go ends takes its children after the goroutine returned;
	// give the kernel a moment to deliver the signals before looking.
	time.Sleep(500 * time.Millisecond)
	var dead []string
	for {
		select {
		case d := <-died:
			dead = append(dead, d)
			continue
		default:
		}
		break
	}
	if len(dead) > 0 {
		t.Fatalf("%d of %d Pdeathsig children died during 300 failing dials: %v", len(dead), len(procs), dead)
	}
}

// A dial that works comes back connected, from the namespace it entered.
func TestDialInConnects(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs CAP_SYS_ADMIN; run as root")
	}
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn, err := DialIn("/proc/self/ns/net")(context.Background(), "unix", sock)
	if err != nil {
		t.Fatalf("dial through this process's own namespace: %v", err)
	}
	conn.Close()
}
