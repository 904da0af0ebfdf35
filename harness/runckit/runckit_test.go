package runckit

import "testing"

func TestLastJSONLine(t *testing.T) {
	tests := []struct {
		name, out, want string
	}{
		{"empty", "", ""},
		{"only json", `{"ok":true,"pipe_size":8192}` + "\n", `{"ok":true,"pipe_size":8192}`},
		{"log lines around it",
			"time=\"2024-05-14T09:30:01Z\" level=error msg=\"failed to write log\"\n" +
				`{"ok":true,"pid":1,"no_new_privs":true,"cap_eff":"00000000a80425fb","pipe_size":8192}` + "\n" +
				"level=warning msg=\"after\"\n",
			`{"ok":true,"pid":1,"no_new_privs":true,"cap_eff":"00000000a80425fb","pipe_size":8192}`},
		{"the last of two", `{"n":1}` + "\n" + `{"n":2}` + "\n", `{"n":2}`},
		{"no json", "exec failed: permission denied\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LastJSONLine(tt.out); got != tt.want {
				t.Errorf("LastJSONLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseInitReport(t *testing.T) {
	r, err := ParseInitReport("noise\n" + `{"ok":true,"no_new_privs":true,"pipe_size":8192}` + "\n")
	if err != nil || r.PipeSize != 8192 || !r.NoNewPrivs {
		t.Errorf("ParseInitReport = %+v, %v", r, err)
	}
	if _, err := ParseInitReport(`{"ok":false}`); err == nil {
		t.Error("a report without ok must be refused")
	}
}

func TestRuncComplaint(t *testing.T) {
	out := `time="x" level=warning msg="w"` + "\n" +
		`time="x" level=error msg="runc run failed: unable to start container process: error during container init: mkdir /proc/self/fd/3: not a directory" func="main.fatal()"` + "\n"
	if got := RuncComplaint(out); got != "runc run failed: unable to start container process: error during container init: mkdir /proc/self/fd/3: not a directory" {
		t.Errorf("RuncComplaint = %q", got)
	}
	if got := RuncComplaint(`level=error msg="a \"quoted\" path"`); got != `a "quoted" path` {
		t.Errorf("RuncComplaint unquotes: %q", got)
	}
	if got := RuncComplaint("noise\nrunc run failed: mkdir /proc/self/fd/3: not a directory\n"); got != "runc run failed: mkdir /proc/self/fd/3: not a directory" {
		t.Errorf("RuncComplaint without a log line = %q", got)
	}
	if got := RuncComplaint(""); got != "" {
		t.Errorf("RuncComplaint of nothing = %q", got)
	}
}
