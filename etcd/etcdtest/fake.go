// Package etcdtest provides an in-memory etcd membership for tests of the
// etcd package and of the phases that use it.
package etcdtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kubestrap/kubestrap/etcd"
)

// Fake is an etcd cluster's membership API answering like etcd does
// (peer URL exists, member not found, learner not in sync, too many
// learners) without its quorum checks, so tests see what etcd.* itself
// refuses. It is safe for concurrent use.
type Fake struct {
	// NotInSync is how many more MemberPromote calls of a started learner
	// fail with etcd's "not in sync with leader" error.
	NotInSync int
	// MaxLearners mirrors etcd's --max-learners; zero means etcd's default, 1.
	MaxLearners int
	// LeaderID is the leader Status reports; zero means none.
	LeaderID uint64

	mu      sync.Mutex
	members []*pb.Member
	healthy map[uint64]bool
	nextID  uint64
	calls   []string
	fail    map[string][]error
}

var (
	_ etcd.Cluster  = (*Fake)(nil)
	_ etcd.Statuser = (*Fake)(nil)
)

// New returns a Fake holding members; zero IDs are assigned, and each
// member's Healthy is what Health reports for its client URLs.
func New(members ...etcd.Member) *Fake {
	f := &Fake{healthy: map[uint64]bool{}, fail: map[string][]error{}, nextID: 1}
	for _, m := range members {
		f.nextID = max(f.nextID, m.ID+1)
	}
	for _, m := range members {
		if m.ID == 0 {
			m.ID = f.nextID
			f.nextID++
		}
		f.members = append(f.members, &pb.Member{ID: m.ID, Name: m.Name, PeerURLs: slices.Clone(m.PeerURLs),
			ClientURLs: slices.Clone(m.ClientURLs), IsLearner: m.IsLearner})
		f.healthy[m.ID] = m.Healthy
	}
	return f
}

// FailNext makes the next calls of method (e.g. "MemberRemove") return
// errs, one per call, before it behaves normally again.
func (f *Fake) FailNext(method string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = append(f.fail[method], errs...)
}

// Calls returns the calls made so far, as "Method" or "Method arg".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Count is how many times method was called.
func (f *Fake) Count(method string) int {
	n := 0
	for _, c := range f.Calls() {
		if name, _, _ := strings.Cut(c, " "); name == method {
			n++
		}
	}
	return n
}

// Start makes a member run, as etcd does when a learner first connects:
// it gets its name and client URL, and is healthy.
func (f *Fake) Start(id uint64, name, clientURL string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.find(id); m != nil {
		m.Name, m.ClientURLs = name, []string{clientURL}
		f.healthy[id] = true
	}
}

// SetHealthy changes what Health reports for member id.
func (f *Fake) SetHealthy(id uint64, healthy bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.healthy[id] = healthy
}

// Members is the current membership, with the health Health reports.
func (f *Fake) Members() []etcd.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []etcd.Member
	for _, m := range f.members {
		out = append(out, etcd.Member{ID: m.ID, Name: m.Name, PeerURLs: slices.Clone(m.PeerURLs),
			ClientURLs: slices.Clone(m.ClientURLs), IsLearner: m.IsLearner, Healthy: f.healthy[m.ID]})
	}
	return out
}

// Health is a probe for etcd.Members: an error unless a healthy member
// serves clientURL.
func (f *Fake) Health(_ context.Context, clientURL string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.members {
		if slices.Contains(m.ClientURLs, clientURL) && f.healthy[m.ID] {
			return nil
		}
	}
	return fmt.Errorf("%s: connection refused", clientURL)
}

// Status implements etcd.Statuser: a healthy member serving endpoint
// answers with its id and LeaderID.
func (f *Fake) Status(_ context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Status", endpoint); err != nil {
		return nil, err
	}
	for _, m := range f.members {
		if slices.Contains(m.ClientURLs, endpoint) && f.healthy[m.ID] {
			return &clientv3.StatusResponse{Header: &pb.ResponseHeader{MemberId: m.ID}, Leader: f.LeaderID}, nil
		}
	}
	return nil, fmt.Errorf("%s: connection refused", endpoint)
}

// MemberList implements etcd.Cluster.
func (f *Fake) MemberList(context.Context, ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("MemberList", ""); err != nil {
		return nil, err
	}
	return &clientv3.MemberListResponse{Members: f.snapshot()}, nil
}

// MemberAddAsLearner implements etcd.Cluster.
func (f *Fake) MemberAddAsLearner(_ context.Context, peerAddrs []string) (*clientv3.MemberAddResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("MemberAddAsLearner", fmt.Sprint(peerAddrs)); err != nil {
		return nil, err
	}
	learners := 0
	for _, m := range f.members {
		if slices.ContainsFunc(peerAddrs, func(u string) bool { return slices.Contains(m.PeerURLs, u) }) {
			return nil, rpctypes.ErrPeerURLExist
		}
		if m.IsLearner {
			learners++
		}
	}
	if learners >= max(f.MaxLearners, 1) {
		return nil, rpctypes.ErrTooManyLearners
	}
	m := &pb.Member{ID: f.nextID, PeerURLs: slices.Clone(peerAddrs), IsLearner: true}
	f.nextID++
	f.members = append(f.members, m)
	return &clientv3.MemberAddResponse{Member: clone(m), Members: f.snapshot()}, nil
}

// MemberPromote implements etcd.Cluster.
func (f *Fake) MemberPromote(_ context.Context, id uint64) (*clientv3.MemberPromoteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("MemberPromote", fmt.Sprintf("%x", id)); err != nil {
		return nil, err
	}
	m := f.find(id)
	switch {
	case m == nil:
		return nil, rpctypes.ErrMemberNotFound
	case !m.IsLearner:
		return nil, rpctypes.ErrMemberNotLearner
	case m.Name == "" || f.NotInSync > 0:
		f.NotInSync = max(f.NotInSync-1, 0)
		return nil, rpctypes.ErrMemberLearnerNotReady
	}
	m.IsLearner = false
	return &clientv3.MemberPromoteResponse{Members: f.snapshot()}, nil
}

// MemberRemove implements etcd.Cluster.
func (f *Fake) MemberRemove(_ context.Context, id uint64) (*clientv3.MemberRemoveResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("MemberRemove", fmt.Sprintf("%x", id)); err != nil {
		return nil, err
	}
	if f.find(id) == nil {
		return nil, rpctypes.ErrMemberNotFound
	}
	f.members = slices.DeleteFunc(f.members, func(m *pb.Member) bool { return m.ID == id })
	delete(f.healthy, id)
	return &clientv3.MemberRemoveResponse{Members: f.snapshot()}, nil
}

// record logs a call and pops an injected failure; the caller holds mu.
func (f *Fake) record(method, arg string) error {
	call := method
	if arg != "" {
		call += " " + arg
	}
	f.calls = append(f.calls, call)
	if errs := f.fail[method]; len(errs) > 0 {
		f.fail[method] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *Fake) find(id uint64) *pb.Member {
	for _, m := range f.members {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// snapshot copies the members so that callers cannot alias the fake's state.
func (f *Fake) snapshot() []*pb.Member {
	out := make([]*pb.Member, 0, len(f.members))
	for _, m := range f.members {
		out = append(out, clone(m))
	}
	return out
}

func clone(m *pb.Member) *pb.Member {
	return &pb.Member{ID: m.ID, Name: m.Name, PeerURLs: slices.Clone(m.PeerURLs),
		ClientURLs: slices.Clone(m.ClientURLs), IsLearner: m.IsLearner}
}
