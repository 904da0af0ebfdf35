package kind

import (
	"fmt"
	"io"
	"sync"
	"time"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// logger writes everything kind says, at every level, to one file with
// timestamps: kind's verbose output (kubeadm init's log at -v 6) is what a
// failed create is diagnosed from.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func newLogger(w io.Writer) *logger { return &logger{w: w} }

func (l *logger) line(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s %s\n", time.Now().UTC().Format("15:04:05.000"), level, msg)
}

func (l *logger) Warn(m string)                      { l.line("WARN", m) }
func (l *logger) Warnf(f string, a ...any)           { l.line("WARN", fmt.Sprintf(f, a...)) }
func (l *logger) Error(m string)                     { l.line("ERROR", m) }
func (l *logger) Errorf(f string, a ...any)          { l.line("ERROR", fmt.Sprintf(f, a...)) }
func (l *logger) V(kindlog.Level) kindlog.InfoLogger { return infoLogger{l} }

type infoLogger struct{ l *logger }

func (i infoLogger) Info(m string)            { i.l.line("INFO", m) }
func (i infoLogger) Infof(f string, a ...any) { i.l.line("INFO", fmt.Sprintf(f, a...)) }
func (i infoLogger) Enabled() bool            { return true }
