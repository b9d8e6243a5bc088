package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	return self, removeChecked(ctx, c, members, self, force, "-f", s)
}

// removeChecked removes m with the quorum rules every removal shares: never
// the last voter; refused when quorum is lost or would be, unless force
// (forceFlag names the flag in the refusal).
func removeChecked(ctx context.Context, c Cluster, members []Member, m Member, force bool, forceFlag string,
	s poll.Spec) error {
	if count(without(members, m.ID)).voters == 0 {
		return fmt.Errorf("%w: %s; there is no cluster to remove it from", ErrLastMember, m)
	}
	if !force {
		if err := CheckRemoveQuorum(members, m.ID); err != nil {
			return fmt.Errorf("%w; or pass %s to remove it anyway", err, forceFlag)
		}
	}
	return removeMember(ctx, c, m, s)
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

// ErrIsSelf says the member to remove is the one this node runs: reset
// removes it, and stops its etcd and data with it.
var ErrIsSelf = errors.New("this is this node's own etcd member")

// FindMember finds a member by name or by its ID in hex (as `etcd members`
// and etcdctl print it); an error lists the members when none matches.
func FindMember(members []Member, nameOrID string) (Member, error) {
	if m, ok := findByName(members, nameOrID); ok {
		return m, nil
	}
	if id, err := strconv.ParseUint(strings.TrimPrefix(nameOrID, "0x"), 16, 64); err == nil {
		if m, ok := findByID(members, id); ok {
			return m, nil
		}
	}
	var known []string
	for _, m := range members {
		known = append(known, fmt.Sprintf("%s (ID %x)", or(m.Name, "unstarted"), m.ID))
	}
	return Member{}, fmt.Errorf("%w: no etcd member is named or has the ID %q; the members are: %s",
		ErrNotAMember, nameOrID, strings.Join(known, ", "))
}

// RemoveOther removes another node's member — typically the dead member of
// a lost VM — from any healthy control plane, with reset's quorum rules:
// refused (ErrWouldLoseQuorum) when the cluster has no quorum or would
// lose it, unless force; never the last voter; never this node's own
// member (selfPeerURL), which `kubestrap reset` removes.
func RemoveOther(ctx context.Context, c Cluster, members []Member, nameOrID, selfPeerURL string, force bool,
	s poll.Spec) (Member, error) {
	m, err := FindMember(members, nameOrID)
	if err != nil {
		return Member{}, err
	}
	if hasPeerURL(m, selfPeerURL) {
		return m, fmt.Errorf("%w: %s; run `kubestrap reset` on this node to take it out of the cluster", ErrIsSelf, m)
	}
	return m, removeChecked(ctx, c, members, m, force, "--force", s)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
