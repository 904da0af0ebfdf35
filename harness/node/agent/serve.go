package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/relapse-dev/relapse/harness/privdir"
)

// The agent's server answers the calls a run makes most often on a remote
// node without a new ssh session each: under emulation a session costs a
// fork of sshd, a login shell and a wrapper shell before the command
// itself (0.15-0.4 s), while the command, or a /proc read the agent makes
// in-process, costs a fraction of that. relapse reaches the server through
// a unix socket forwarded over the node's ssh master connection, so the
// server listens on a root-only socket and nothing else can reach it.
//
// Endpoints (all POST):
//
//	/agent?arg=A&arg=B  an agent subcommand, in-process; body is its output
//	/run                a command: header RunHeader holds its RunSpec, the
//	                    body is its stdin; the answer is a RunResult
//	/read?path=P        a file's contents (404 when it does not exist)
//	/write?path=P&mode=0644&rename=1  stores the body at P
//
// An exit status travels in the ExitHeader of /agent (ExitNoProcess) and
// in RunResult.Exit; a request cancelled by relapse kills the command's
// process group.

// ServePath is where providers have the agent's server listen: a socket
// in a directory only root may enter (see Serve).
const ServePath = "/run/relapse-agent/serve.sock"

// RunHeader carries a /run request's RunSpec as JSON.
const RunHeader = "X-Relapse-Run"

// ExitHeader carries an /agent call's exit status when it failed.
const ExitHeader = "X-Relapse-Exit"

// RunSpec is a command for /run.
type RunSpec struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
}

// RunResult is how a /run command ended. Exit is -1 with Error set when
// it could not start or was killed.
type RunResult struct {
	Exit   int    `json:"exit"`
	Error  string `json:"error,omitempty"`
	Stdout []byte `json:"stdout"`
	Stderr []byte `json:"stderr"`
}

func init() {
	Register("serve", "serve SOCKET", func(ctx context.Context, args []string, _ io.Writer) error {
		if len(args) < 1 {
			return errors.New("want SOCKET (e.g. " + ServePath + ")")
		}
		return Serve(ctx, args[0])
	})
}

// Serve answers on a unix socket at path until ctx ends. Whoever can
// connect runs commands as root, so the socket is private from the moment
// it exists: its directory is private (made or checked by privdir) and it
// is made with mode 0600, not changed to it after listen.
func Serve(ctx context.Context, path string) error {
	if err := privdir.Ensure(filepath.Dir(path)); err != nil {
		return fmt.Errorf("the agent's socket directory: %w", err)
	}
	_ = os.Remove(path)
	l, err := listenPrivate(path)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", path, err)
	}
	defer os.Remove(path)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /agent", serveAgent)
	mux.HandleFunc("POST /run", serveRun)
	mux.HandleFunc("POST /read", serveRead)
	mux.HandleFunc("POST /write", serveWrite)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// listenPrivate listens on a unix socket at path that only this user may
// connect to: bind makes the socket with the umask's mode, so the umask
// keeps every bit but the owner's read and write off while it does. The
// umask is the process's; Serve runs alone in the agent's serve process,
// which makes no other file meanwhile.
func listenPrivate(path string) (net.Listener, error) {
	old := syscall.Umask(0o177)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}

func serveAgent(w http.ResponseWriter, r *http.Request) {
	args := r.URL.Query()["arg"]
	var out, errOut bytes.Buffer
	code := Main(r.Context(), args, &out, &errOut)
	if code != 0 {
		w.Header().Set(ExitHeader, strconv.Itoa(code))
		http.Error(w, errOut.String(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(out.Bytes())
}

func serveRun(w http.ResponseWriter, r *http.Request) {
	var spec RunSpec
	if err := json.Unmarshal([]byte(r.Header.Get(RunHeader)), &spec); err != nil || len(spec.Argv) == 0 {
		http.Error(w, fmt.Sprintf("bad %s header: %v", RunHeader, err), http.StatusBadRequest)
		return
	}
	stdin, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var stdout, stderr bytes.Buffer
	c := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	c.Env = append(os.Environ(), spec.Env...)
	c.Dir = spec.Dir
	c.Stdin, c.Stdout, c.Stderr = bytes.NewReader(stdin), &stdout, &stderr
	// Its own process group, so that a cancelled call ends everything it
	// started, as the ssh path's kill of the group does.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = 5 * time.Second
	res := RunResult{Exit: -1}
	if err := c.Start(); err != nil {
		res.Error = err.Error()
		writeJSON(w, res)
		return
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err = <-done:
	case <-r.Context().Done():
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		err = <-done
	}
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.Exit = 0
	case errors.As(err, &ee) && ee.Exited():
		res.Exit = ee.ExitCode()
	default:
		res.Error = err.Error()
	}
	writeJSON(w, res)
}

func serveRead(w http.ResponseWriter, r *http.Request) {
	data, err := os.ReadFile(r.URL.Query().Get("path"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		_, _ = w.Write(data)
	}
}

// serveWrite stores the body. With rename=1 it writes a temporary file and
// renames it over the path, so a binary being executed is replaced rather
// than rewritten ("text file busy"); /proc/sys files are written in place.
func serveWrite(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path := q.Get("path")
	mode, err := strconv.ParseUint(q.Get("mode"), 8, 32)
	if path == "" || err != nil {
		http.Error(w, "want path and an octal mode", http.StatusBadRequest)
		return
	}
	if err := writeFile(path, r.Body, os.FileMode(mode), q.Get("rename") == "1"); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func writeFile(path string, body io.Reader, mode os.FileMode, viaRename bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	target := path
	if viaRename {
		target = path + ".relapse-tmp"
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if st, err := os.Stat(target); err == nil && st.Mode().Perm() != mode.Perm() {
		if err := os.Chmod(target, mode); err != nil {
			return err
		}
	}
	if viaRename {
		return os.Rename(target, path)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
