package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/types"

	"github.com/kubestrap/kubestrap/poll"
)

// Joined is what AddLearner did: the member this node is now, the
// membership after the change (for InitialCluster), the stale members it
// removed, and a note for the user.
type Joined struct {
	Self    Member
	All     []Member
	Removed []Member
	Note    string
}

// DataIsStale says whether local etcd data belongs to a member that was
// removed, and so must be moved aside before etcd starts. Only a removal
// makes it stale: a member that was reused (a resumed join, a re-run of
// up) owns the data, and moving it would wipe a live voter.
func (j Joined) DataIsStale() bool { return len(j.Removed) > 0 }

// AddLearner makes this node (name, peerURL) a learner of the cluster
// whose current members (with health) are members.
//
// It is idempotent, so a join killed half-way converges on re-run: a member
// already holding peerURL is returned, not added again. A stale member, i.e.
// this node's earlier incarnation (its name under another peer URL, or its
// peer URL, started, while this host has no etcd data: hasData false), is
// removed first if quorum allows; any local etcd data then belongs to the
// removed member and must not be used. Nothing changes when the add or a
// removal would lose quorum. s gives interval, timeout and output for the
// retries; What is set per step.
func AddLearner(ctx context.Context, c Cluster, members []Member, name, peerURL string, hasData bool,
	s poll.Spec) (Joined, error) {
	if _, err := types.NewURLs([]string{peerURL}); err != nil {
		return Joined{}, fmt.Errorf("etcd peer URL %q: %w", peerURL, err)
	}
	stale := staleMembers(members, name, peerURL, hasData)
	remaining, err := planRemovals(members, stale)
	if err != nil {
		return Joined{}, err
	}
	existing, found := findByPeerURL(remaining, peerURL)
	if !found {
		if err := CheckAddQuorum(remaining); err != nil {
			return Joined{}, err
		}
	}
	j := Joined{}
	for _, m := range stale {
		if err := removeMember(ctx, c, m, s); err != nil {
			return j, fmt.Errorf("removing stale etcd member %s: %w", m, err)
		}
		j.Removed = append(j.Removed, m)
	}
	j.Note = staleNote(stale)
	if found {
		j.Self, j.All, j.Note = existing, remaining, joinNotes(j.Note, reuseNote(existing))
		return j, nil
	}
	self, all, err := addLearner(ctx, c, peerURL, s)
	if err != nil {
		return j, err
	}
	j.Self, j.All = self, keepHealth(all, remaining)
	return j, nil
}

// staleMembers finds the members that carry this node's identity from a
// previous life. An unstarted learner with our peer URL is not stale: it is
// the remains of a join killed before etcd started, and is reused.
func staleMembers(members []Member, name, peerURL string, hasData bool) []Member {
	var stale []Member
	if m, ok := findByName(members, name); ok && !hasPeerURL(m, peerURL) {
		stale = append(stale, m)
	}
	if m, ok := findByPeerURL(members, peerURL); ok && m.Started() && !hasData {
		if len(stale) == 0 || stale[0].ID != m.ID {
			stale = append(stale, m)
		}
	}
	return stale
}

func hasPeerURL(m Member, peerURL string) bool {
	_, ok := findByPeerURL([]Member{m}, peerURL)
	return ok
}

// planRemovals checks, before anything changes, that every stale member
// can go in turn, and returns the membership without them.
func planRemovals(members, stale []Member) ([]Member, error) {
	cur := members
	for _, m := range stale {
		if err := CheckRemoveQuorum(cur, m.ID); err != nil {
			return nil, fmt.Errorf("etcd member %s is this node's earlier incarnation and must be replaced, "+
				"but cannot be removed: %w", m, err)
		}
		cur = without(cur, m.ID)
	}
	return cur, nil
}

func staleNote(stale []Member) string {
	var names []string
	for _, m := range stale {
		names = append(names, m.String())
	}
	if len(names) == 0 {
		return ""
	}
	return "removed stale etcd member " + strings.Join(names, " and ") +
		" left by this node's earlier incarnation (re-imaged or re-addressed host)"
}

func reuseNote(m Member) string {
	if m.Started() {
		return fmt.Sprintf("this node is already etcd member %s", m)
	}
	return fmt.Sprintf("reusing etcd learner %s added by an earlier, interrupted join", m)
}

func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

// addLearner retries the add: etcd refuses it for a while after the
// previous member's promotion (unhealthy cluster, too many learners).
func addLearner(ctx context.Context, c Cluster, peerURL string, s poll.Spec) (Member, []Member, error) {
	var self Member
	var all []Member
	s.What = "etcd to add learner " + peerURL
	err := poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		resp, err := c.MemberAddAsLearner(cctx, []string{peerURL})
		if errors.Is(err, rpctypes.ErrPeerURLExist) {
			// An earlier attempt went through but its answer was lost.
			return lookupPeer(cctx, c, peerURL, &self, &all)
		}
		if err != nil {
			return false, err
		}
		self, all = fromPB([]*pb.Member{resp.Member})[0], fromPB(resp.Members)
		return true, nil
	})
	return self, all, err
}

func lookupPeer(ctx context.Context, c Cluster, peerURL string, self *Member, all *[]Member) (bool, error) {
	resp, err := c.MemberList(ctx)
	if err != nil {
		return false, err
	}
	*all = fromPB(resp.Members)
	m, ok := findByPeerURL(*all, peerURL)
	if !ok {
		return false, fmt.Errorf("etcd says peer URL %s exists but does not list it", peerURL)
	}
	*self = m
	return true, nil
}

// keepHealth copies the health already probed onto the fresh membership,
// since the add response carries none.
func keepHealth(all, probed []Member) []Member {
	for i := range all {
		if m, ok := findByID(probed, all[i].ID); ok {
			all[i].Healthy = m.Healthy
		}
	}
	return all
}

// Promote waits for learner id to start and catch up with the leader, then
// makes it a voting member. etcd has no "caught up" query, so like kubeadm
// it retries the promotion while etcd answers that the learner is not in
// sync. An already promoted member succeeds at once (a re-run of join); a
// removed one fails at once. s gives interval, timeout and output; What is
// set here.
func Promote(ctx context.Context, c Cluster, id uint64, s poll.Spec) error {
	s.What = fmt.Sprintf("etcd learner %x to catch up and be promoted", id)
	return poll.Until(ctx, s, func(ctx context.Context) (bool, error) { return promoteOnce(ctx, c, id) })
}

func promoteOnce(ctx context.Context, c Cluster, id uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.MemberList(ctx)
	if err != nil {
		return false, err
	}
	m, ok := findByID(fromPB(resp.Members), id)
	switch {
	case !ok:
		return false, poll.Permanent(fmt.Errorf("%w: etcd member %x was removed before its promotion", ErrNotAMember, id))
	case !m.IsLearner:
		return true, nil
	case !m.Started():
		return false, fmt.Errorf("etcd learner %x has not started yet", id)
	}
	_, err = c.MemberPromote(ctx, id)
	switch {
	case err == nil, errors.Is(err, rpctypes.ErrMemberNotLearner):
		return true, nil
	case errors.Is(err, rpctypes.ErrMemberLearnerNotReady):
		return false, fmt.Errorf("etcd learner %x is still catching up with the leader", id)
	}
	return false, err
}
