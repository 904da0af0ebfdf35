package cluster

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// CRIConn is a gRPC connection to the CRI endpoint of the cluster's
// runtime (ContainerdSocket), dialled through Dial, so it reaches a VM
// node's socket too. The caller closes it.
func (c *Cluster) CRIConn() (*grpc.ClientConn, error) {
	return grpc.NewClient("unix://"+c.ContainerdSocket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return c.Dial(ctx, "unix", c.ContainerdSocket) }))
}
