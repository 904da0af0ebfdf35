// Command relapse-agent runs on a remote node (a VM or Vagrant box) and
// answers relapse's questions about it as JSON; see harness/node/agent.
// It is built static and copied onto each node by its provider.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/relapse-dev/relapse/harness/node/agent"

	// Node-side halves: the pipe-deadlock detector (watch-pipe-deadlock),
	// and the systemd injector, probe and cookie mover.
	_ "github.com/relapse-dev/relapse/harness/detect/pipewrite"
	_ "github.com/relapse-dev/relapse/harness/systemdbus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(agent.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
