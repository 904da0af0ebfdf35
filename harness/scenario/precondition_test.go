package scenario

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/relapse-dev/relapse/harness/evidence"
	"github.com/relapse-dev/relapse/harness/node"
)

// hostAs is a node that answers the two reads the preconditions make.
type hostAs struct {
	node.Node
	files map[string]string
	procs []evidence.Process
}

func (h hostAs) Name() string { return "local" }

func (h hostAs) ReadFile(_ context.Context, path string) ([]byte, error) {
	v, ok := h.files[path]
	if !ok {
		return nil, os.ErrNotExist
	}
	return []byte(v), nil
}

func (h hostAs) Processes(context.Context) ([]evidence.Process, error) { return h.procs, nil }

// needsPipes is a scenario declaring the two preconditions runc-pipe-hang does.
type needsPipes struct{ Scenario }

func (needsPipes) Preconditions(Values) []Precondition {
	return []Precondition{
		SysctlAtLeast("fs.pipe-user-pages-soft", 16384, "the control needs full-size pipes"),
		NoProcessNamed("runc init", "it holds pipes", "runc:[2:INIT]"),
	}
}

func TestPreconditionsNameTheCauseAndTheFix(t *testing.T) {
	ctx := context.Background()
	const soft = "/proc/sys/fs/pipe-user-pages-soft"
	for _, tt := range []struct {
		name  string
		host  hostAs
		unmet []string
	}{
		{"default host", hostAs{files: map[string]string{soft: "16384\n"}, procs: []evidence.Process{{PID: 1, Comm: "init"}}}, nil},
		{"no limit", hostAs{files: map[string]string{soft: "0\n"}}, nil},
		{"left at 1 by an interrupted reproducer", hostAs{files: map[string]string{soft: "1\n"}},
			[]string{"fs.pipe-user-pages-soft is 1 on local: the control needs full-size pipes; fix: sysctl -w fs.pipe-user-pages-soft=16384"}},
		{"a stuck runc init", hostAs{files: map[string]string{soft: "16384\n"}, procs: []evidence.Process{
			{PID: 42, Comm: "runc:[2:INIT]", State: "S", Wchan: "pipe_write"}, {PID: 43, Comm: "runc:[2:INIT]", State: "Z"}}},
			[]string{"1 runc init already running on local: pid 42 (runc:[2:INIT], state S, wchan pipe_write): it holds pipes; fix: kill -9 42"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			held, unmet, err := CheckPreconditions(ctx, needsPipes{}, Values{}, tt.host)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range unmet {
				got = append(got, u.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.unmet, "\n") {
				t.Errorf("unmet:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.unmet, "\n"))
			}
			if len(held)+len(unmet) != 2 {
				t.Errorf("held %v and %d unmet: want the two declared", held, len(unmet))
			}
		})
	}
	// A node that cannot be read is relapse's failure, not an unmet precondition.
	_, _, err := CheckPreconditions(ctx, needsPipes{}, Values{}, hostAs{files: map[string]string{}})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unreadable sysctl: err = %v", err)
	}
}
