package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/relapse-dev/relapse/harness/run"
)

// PipePages lowers fs.pipe-user-pages-soft while armed: once a user's
// pipes hold that many pages, each new pipe gets one page (4 KiB), so a
// writer that expected the default 64 KiB blocks. It is the generic form
// of runc rc93's hang (containerd#5261), whose trigger sets it to 1.
type PipePages struct {
	// Pages is the soft limit (0 lifts it).
	Pages int
}

const pipePagesKey = "fs.pipe-user-pages-soft"

func (f PipePages) Kind() string { return "pipe-pages" }

func (f PipePages) Params() map[string]string {
	return map[string]string{"pages": strconv.Itoa(f.Pages)}
}

func (f PipePages) Arm(ctx context.Context, r *run.Run, _ Target) (Armed, error) {
	undo, err := Sysctl{Key: pipePagesKey, Value: strconv.Itoa(f.Pages)}.apply(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("arming pipe-pages: %w", err)
	}
	return &armed{
		disarm: func(ctx context.Context) error { _, err := undo(ctx); return err },
		saw:    func() string { return fmt.Sprintf("%s set to %d", pipePagesKey, f.Pages) },
	}, nil
}

func init() {
	RegisterFault(FaultKind{
		Kind: "pipe-pages",
		// 1 is the rc93 hang's value; the others leave a few pipes their
		// default size before the limit bites.
		Draw: func(rng *rand.Rand) Fault { return PipePages{Pages: pick(rng, 1, 1, 2, 16, 64)} },
		Parse: func(p map[string]string) (Fault, error) {
			r := readParams("pipe-pages", p, "pages")
			f := PipePages{Pages: r.integer("pages", 0, 1<<20)}
			return f, r.err()
		},
	})
}
