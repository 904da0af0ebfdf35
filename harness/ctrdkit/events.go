package ctrdkit

// The task events the containerd under test publishes, and a task's exit:
// how a bug shows an event the daemon should have sent and did not.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd"
	// The task events' types, for decoding what the daemon publishes.
	_ "github.com/containerd/containerd/api/events"
	"github.com/containerd/typeurl/v2"

	"github.com/relapse-dev/relapse/harness/poll"
)

// TaskEvent is one event containerd published about a task.
type TaskEvent struct {
	At    time.Time
	Topic string
	// Container is the container the event is about ("" when its
	// payload names none).
	Container string
}

func (e TaskEvent) String() string {
	return fmt.Sprintf("%s %s container %s", e.At.UTC().Format("15:04:05.000"), e.Topic, e.Container)
}

// TaskEvents records what containerd publishes on /tasks/ topics from
// the moment it is made until stopped: how a bug shows an event the daemon
// should have sent and did not.
type TaskEvents struct {
	mu     sync.Mutex
	seen   []TaskEvent
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

// WatchTasks subscribes to the daemon's task events.
func (k *Kit) WatchTasks(ctx context.Context) *TaskEvents {
	ctx, cancel := context.WithCancel(ctx)
	t := &TaskEvents{cancel: cancel, done: make(chan struct{})}
	evs, errs := k.Client.Subscribe(ctx, `topic~="^/tasks/"`)
	go func() {
		defer close(t.done)
		for {
			select {
			case e := <-evs:
				te := TaskEvent{At: e.Timestamp, Topic: e.Topic}
				if v, err := typeurl.UnmarshalAny(e.Event); err == nil {
					te.Container = eventContainer(v)
				}
				t.mu.Lock()
				t.seen = append(t.seen, te)
				t.mu.Unlock()
			case err := <-errs:
				t.mu.Lock()
				if ctx.Err() == nil {
					t.err = err
				}
				t.mu.Unlock()
				return
			}
		}
	}()
	return t
}

// eventContainer is the container a task event names.
func eventContainer(v any) string {
	if e, ok := v.(interface{ GetContainerID() string }); ok {
		return e.GetContainerID()
	}
	return ""
}

// Of lists the events seen so far about container id on topic ("" for
// every topic), and the subscription's error if it ended.
func (t *TaskEvents) Of(id, topic string) ([]TaskEvent, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []TaskEvent
	for _, e := range t.seen {
		if e.Container == id && (topic == "" || e.Topic == topic) {
			out = append(out, e)
		}
	}
	return out, t.err
}

// Await waits up to within for an event about container id on topic and
// returns those seen by then (none when none came: the wait's end is an
// answer, not an error) and the subscription's error if it ended.
func (t *TaskEvents) Await(ctx context.Context, id, topic string, within time.Duration) ([]TaskEvent, error) {
	err := poll.Within(ctx, within, 100*time.Millisecond, func(context.Context) (bool, error) {
		evs, err := t.Of(id, topic)
		return len(evs) > 0, err
	})
	if err != nil && !errors.Is(err, poll.ErrDeadline) {
		return nil, err
	}
	return t.Of(id, topic)
}

// Stop ends the subscription.
func (t *TaskEvents) Stop() {
	t.cancel()
	<-t.done
}

// Topics are the events' topics in order, one line each with its time.
func Topics(evs []TaskEvent) string {
	lines := make([]string, len(evs))
	for i, e := range evs {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// OOMTopic is the topic containerd publishes a task's OOM kill on.
const OOMTopic = "/tasks/oom"

// ExitStatus waits up to within for task to exit and returns its status.
func ExitStatus(ctx context.Context, task containerd.Task, within time.Duration) (uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	statusC, err := task.Wait(ctx)
	if err != nil {
		return 0, fmt.Errorf("waiting for task %s: %w", task.ID(), err)
	}
	select {
	case s := <-statusC:
		code, _, err := s.Result()
		return code, err
	case <-ctx.Done():
		return 0, fmt.Errorf("task %s still running after %s", task.ID(), within)
	}
}
