package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// CRIProxy sits between kubelet and containerd on the CRI socket and
// forwards every call unchanged (any CRI version: it never decodes them),
// except the methods a fault names, which it delays or holds until the
// fault is cleared or the caller gives up. That is how a runtime that
// stops answering relists is made without a runtime bug (PLEG not
// healthy), while Status and the rest keep answering.
type CRIProxy struct {
	// Listen is the socket kubelet dials; Upstream is containerd's.
	Listen, Upstream string
	// Dial, when set, connects to the upstream instead of dialing the
	// Upstream path (a runtime whose socket is only known once its
	// container runs).
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	mu     sync.Mutex
	faults map[string]Fault
	log    []ProxyEvent
	server *grpc.Server
	conn   *grpc.ClientConn
	// release is closed when the current hold ends.
	release chan struct{}
	// waiting counts calls held or delayed right now.
	waiting int
}

// Fault is what happens to calls of one method: a fixed delay, or a hold.
type Fault struct {
	Delay time.Duration
	Hold  bool
}

// ProxyEvent records a faulted call.
type ProxyEvent struct {
	At     time.Time     `json:"at"`
	Method string        `json:"method"`
	Waited time.Duration `json:"waited"`
	Result string        `json:"result"`
}

// rawCodec passes messages through as bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: unexpected %T", v)
	}
	return *b, nil
}
func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: unexpected %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

// Name is "proto" so the wire says what the bytes are (kubelet and
// containerd speak protobuf); the codec is never registered, so nothing
// else in relapse uses it.
func (rawCodec) Name() string { return "proto" }

// Start listens and forwards until Stop.
func (p *CRIProxy) Start(ctx context.Context) error {
	p.faults = map[string]Fault{}
	p.release = make(chan struct{})
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(64<<20))}
	if p.Dial != nil {
		opts = append(opts, grpc.WithContextDialer(p.Dial))
	}
	conn, err := grpc.NewClient("unix://"+p.Upstream, opts...)
	if err != nil {
		return fmt.Errorf("CRI proxy: dialing %s: %w", p.Upstream, err)
	}
	p.conn = conn
	_ = os.Remove(p.Listen)
	l, err := net.Listen("unix", p.Listen)
	if err != nil {
		conn.Close()
		return fmt.Errorf("CRI proxy: listening on %s: %w", p.Listen, err)
	}
	p.server = grpc.NewServer(grpc.UnknownServiceHandler(p.forward), grpc.ForceServerCodec(rawCodec{}), grpc.MaxRecvMsgSize(64<<20))
	go func() { _ = p.server.Serve(l) }()
	return nil
}

// Set installs faults by method name ("ListPodSandbox"); nil clears them
// and releases held calls.
func (p *CRIProxy) Set(faults map[string]Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = faults
	if len(faults) == 0 {
		close(p.release)
		p.release = make(chan struct{})
	}
}

// Waiting is how many calls a fault holds or delays right now: a hold is
// in force on a caller only once its call has arrived.
func (p *CRIProxy) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}

// Events returns the faulted calls so far.
func (p *CRIProxy) Events() []ProxyEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyEvent(nil), p.log...)
}

func (p *CRIProxy) forward(_ any, stream grpc.ServerStream) error {
	full, ok := grpc.MethodFromServerStream(stream)
	if !ok {
		return fmt.Errorf("CRI proxy: no method")
	}
	short := full[strings.LastIndex(full, "/")+1:]
	p.mu.Lock()
	fault, faulted := p.faults[short]
	release := p.release
	if faulted {
		p.waiting++
	}
	p.mu.Unlock()
	ctx := stream.Context()
	if faulted {
		start := time.Now()
		result := "forwarded after delay"
		var wait <-chan time.Time
		if !fault.Hold {
			wait = time.After(fault.Delay)
		}
		select {
		case <-wait:
		case <-release:
			result = "released"
		case <-ctx.Done():
			result = "caller gave up"
		}
		p.mu.Lock()
		p.waiting--
		p.log = append(p.log, ProxyEvent{At: start.UTC(), Method: short, Waited: time.Since(start), Result: result})
		if len(p.log) > 10000 {
			p.log = p.log[len(p.log)-10000:]
		}
		p.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	out, err := p.conn.NewStream(metadata.NewOutgoingContext(ctx, md), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, full)
	if err != nil {
		return err
	}
	var req []byte
	if err := stream.RecvMsg(&req); err != nil {
		return err
	}
	if err := out.SendMsg(&req); err != nil {
		return err
	}
	if err := out.CloseSend(); err != nil {
		return err
	}
	for {
		var resp []byte
		if err := out.RecvMsg(&resp); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := stream.SendMsg(&resp); err != nil {
			return err
		}
	}
}

// Stop ends the proxy and releases held calls.
func (p *CRIProxy) Stop() {
	p.Set(nil)
	if p.server != nil {
		p.server.Stop()
	}
	if p.conn != nil {
		p.conn.Close()
	}
}
