package etcd

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/kubestrap/kubestrap/poll"
)

// RemoveSelf removes this node's member (found by peer URL, else by name)
// for reset. c should talk to the other members (ClientURLsExcept): the
// removed member stops serving and would lose the answer. It returns
// ErrNotAMember when the member is already gone (a re-run of reset),
// ErrLastMember at once when no other voting member exists (no retry can
// help), and ErrWouldLoseQuorum unless force. s gives interval, timeout and
// output for the retries; What is set here.
func RemoveSelf(ctx context.Context, c Cluster, members []Member, name, peerURL string, force bool,
	s poll.Spec) (removed Member, err error) {
	self, ok := findByPeerURL(members, peerURL)
	if !ok {
		self, ok = findByName(members, name)
	}
	if !ok {
		return Member{}, fmt.Errorf("%w: no etcd member has peer URL %s or name %q", ErrNotAMember, peerURL, name)
	}
	if count(without(members, self.ID)).voters == 0 {
		return self, fmt.Errorf("%w: %s; there is no cluster to remove it from", ErrLastMember, self)
	}
	if !force {
		if err := CheckRemoveQuorum(members, self.ID); err != nil {
			return self, fmt.Errorf("%w; or pass -f to remove it anyway", err)
		}
	}
	return self, removeMember(ctx, c, self, s)
}

// removeMember retries the removal (a leader election or a busy cluster
// fails it for a while); a member already gone counts as removed, since an
// earlier attempt may have succeeded without its answer arriving.
func removeMember(ctx context.Context, c Cluster, m Member, s poll.Spec) error {
	s.What = "etcd to remove member " + m.String()
	return poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		_, err := c.MemberRemove(ctx, m.ID)
		if err == nil || errors.Is(err, rpctypes.ErrMemberNotFound) {
			return true, nil
		}
		return false, err
	})
}
