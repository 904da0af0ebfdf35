package cluster

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The proxy is method-agnostic: a real gRPC service (grpc's own health
// service) behind it shows forwarding, holding and release.
func TestCRIProxyForwardsHoldsAndReleases(t *testing.T) {
	dir := t.TempDir()
	upstream := filepath.Join(dir, "up.sock")
	l, err := net.Listen("unix", upstream)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	p := &CRIProxy{Listen: filepath.Join(dir, "proxy.sock"), Upstream: upstream}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	conn, err := grpc.NewClient("unix://"+p.Listen, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	// Deadlines only bound a broken proxy; what is checked is the order of
	// events, so a loaded machine changes nothing.
	check := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(time.Minute); err != nil {
		t.Fatalf("forwarded call: %v", err)
	}
	p.Set(map[string]Fault{"Check": {Hold: true}})
	if err := check(300 * time.Millisecond); err == nil {
		t.Fatal("a held method must not answer")
	}
	// The proxy has seen that caller give up before the next call comes.
	eventually(t, "the proxy records the caller that gave up", func() bool { return len(p.Events()) == 1 && p.Waiting() == 0 })
	done := make(chan error, 1)
	go func() { done <- check(time.Minute) }()
	eventually(t, "the proxy holds the second call", func() bool { return p.Waiting() == 1 })
	p.Set(nil)
	if err := <-done; err != nil {
		t.Fatalf("a released call goes through: %v", err)
	}
	// A delay is a floor: a timer never fires early.
	const delay = 300 * time.Millisecond
	p.Set(map[string]Fault{"Check": {Delay: delay}})
	start := time.Now()
	if err := check(time.Minute); err != nil || time.Since(start) < delay {
		t.Errorf("delayed call: %v after %s", err, time.Since(start))
	}
	results := map[string]int{}
	for _, e := range p.Events() {
		results[e.Result]++
	}
	if results["caller gave up"] != 1 || results["released"] != 1 || results["forwarded after delay"] != 1 {
		t.Errorf("events %v", results)
	}
}

// eventually polls cond until it holds; a minute bounds a broken proxy.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
	}
}
