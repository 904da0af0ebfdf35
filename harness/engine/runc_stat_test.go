package engine

import "testing"

func TestStatParsing(t *testing.T) {
	running := []byte("4242 (init (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615")
	zombie := []byte("4242 (init) Z 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 0 0 18446744073709551615")
	if exitedStat(running) || !exitedStat(zombie) || !exitedStat([]byte("garbage")) {
		t.Error("exitedStat misreads the state after the last ')'")
	}
	if got := statStartTime(running); got != "987654" {
		t.Errorf("statStartTime = %q, want 987654", got)
	}
	if statStartTime([]byte("short)")) != "" {
		t.Error("statStartTime of a short line should be empty")
	}
}
