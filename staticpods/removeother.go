package staticpods

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
)

// RemoveOtherMember takes another node's member (by name or hex ID) out
// of the etcd cluster through this node's member under root: the way to
// drop the member of a lost VM. etcd.RemoveOther refuses this node's own
// member and, unless force, a removal that would lose quorum; its waiting
// is reported on progress.
func RemoveOtherMember(ctx context.Context, root node.Root, nameOrID string, force bool,
	progress io.Writer) (etcd.Member, error) {
	le, err := LocalMember(root)
	if err != nil {
		return etcd.Member{}, err
	}
	c, err := etcd.Client(le.Endpoints, le.HostTLS(root))
	if err != nil {
		return etcd.Member{}, err
	}
	defer func() { _ = c.Close() }()
	members, err := etcd.Members(ctx, c, etcd.HealthOf(le.HostTLS(root)))
	if err != nil {
		return etcd.Member{}, fmt.Errorf("list the etcd members: %w", err)
	}
	return etcd.RemoveOther(ctx, c, members, nameOrID, le.PeerURL, force,
		poll.Spec{Interval: time.Second, Timeout: time.Minute, Out: progress, Prefix: "etcd"})
}
