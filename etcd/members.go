package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Sentinels for membership changes; callers tell them apart with errors.Is.
var (
	// ErrLastMember: this node runs the only voting member, so there is no
	// cluster left to remove it from (kubeadm retries this for a minute; we
	// do not, since no retry can succeed).
	ErrLastMember = errors.New("this is the last etcd voting member")
	// ErrWouldLoseQuorum: the change would leave (or the cluster already is)
	// without a healthy majority of voting members.
	ErrWouldLoseQuorum = errors.New("etcd would lose quorum")
	// ErrNotAMember: the node has no member (already removed), which makes
	// a re-run of reset a no-op rather than a failure.
	ErrNotAMember = errors.New("not an etcd member")
)

// callTimeout bounds one membership RPC so that a dead endpoint makes the
// surrounding poll retry instead of hanging until its overall timeout.
const callTimeout = 5 * time.Second

// healthTimeout bounds one member's health probe.
const healthTimeout = 2 * time.Second

// Member is one etcd cluster member as kubestrap reasons about it.
type Member struct {
	ID   uint64
	Name string // "" until a freshly added learner has started
	// PeerURLs identify the member; ClientURLs are empty until it started.
	PeerURLs, ClientURLs []string
	IsLearner            bool
	// Healthy is true when the member answered Status and a linearizable
	// read. Learners do not serve linearizable reads, so they read false;
	// they do not count towards quorum either.
	Healthy bool
}

// Started reports whether the member has ever run: etcd leaves the name
// and client URLs empty until the member first connects.
func (m Member) Started() bool { return m.Name != "" }

// String names the member for messages: its name (or id while unstarted)
// and first peer URL.
func (m Member) String() string {
	name := m.Name
	if name == "" {
		name = "unstarted " + strconv.FormatUint(m.ID, 16)
	}
	return fmt.Sprintf("%s (%s)", name, strings.Join(m.PeerURLs, ","))
}

// Cluster is the part of clientv3.Cluster that membership management uses;
// *clientv3.Client satisfies it, and etcdtest.Fake stands in for tests.
type Cluster interface {
	MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error)
	MemberAddAsLearner(ctx context.Context, peerAddrs []string) (*clientv3.MemberAddResponse, error)
	MemberPromote(ctx context.Context, id uint64) (*clientv3.MemberPromoteResponse, error)
	MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error)
}

var _ Cluster = (*clientv3.Client)(nil)

// Members lists the cluster's members and, when healthOf is not nil,
// probes each started member's first client URL (in parallel, so that a
// few dead members cost one timeout rather than one each).
func Members(ctx context.Context, c Cluster, healthOf func(ctx context.Context, clientURL string) error) ([]Member, error) {
	lctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.MemberList(lctx)
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	members := fromPB(resp.Members)
	if healthOf != nil {
		probe(ctx, members, healthOf)
	}
	return members, nil
}

func probe(ctx context.Context, members []Member, healthOf func(ctx context.Context, clientURL string) error) {
	var wg sync.WaitGroup
	for i := range members {
		if len(members[i].ClientURLs) == 0 {
			continue
		}
		wg.Add(1)
		go func(m *Member) {
			defer wg.Done()
			m.Healthy = healthOf(ctx, m.ClientURLs[0]) == nil
		}(&members[i])
	}
	wg.Wait()
}

func fromPB(ms []*pb.Member) []Member {
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, Member{ID: m.ID, Name: m.Name, PeerURLs: slices.Clone(m.PeerURLs),
			ClientURLs: slices.Clone(m.ClientURLs), IsLearner: m.IsLearner})
	}
	return out
}

// HealthOf returns a health probe for Members that dials only the given
// endpoint with its own short-lived client: a shared client would balance
// the request to whichever member answers and hide a dead one.
func HealthOf(files TLSFiles) func(ctx context.Context, clientURL string) error {
	return func(ctx context.Context, clientURL string) error {
		ctx, cancel := context.WithTimeout(ctx, healthTimeout)
		defer cancel()
		c, err := Client([]string{clientURL}, files)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		return Healthy(ctx, c, clientURL)
	}
}

// InitialCluster renders --initial-cluster for a member joining with
// initial-cluster-state=existing: every member's peer URLs, this node's
// under selfName (an unstarted learner has no name yet), sorted by name so
// that the static pod manifest does not change between re-runs.
func InitialCluster(all []Member, selfName, selfPeerURL string) string {
	var entries []string
	self := false
	for _, m := range all {
		name := m.Name
		if slices.Contains(m.PeerURLs, selfPeerURL) {
			name, self = selfName, true
		} else if name == "" {
			// Another node's learner that has not started yet (concurrent
			// joins): etcd matches members by peer URL, the name is a label.
			name = strconv.FormatUint(m.ID, 16)
		}
		for _, u := range m.PeerURLs {
			entries = append(entries, name+"="+u)
		}
	}
	if !self {
		entries = append(entries, selfName+"="+selfPeerURL)
	}
	slices.Sort(entries)
	return strings.Join(entries, ",")
}

// ClientURLsExcept lists the client URLs of every member but id, for a
// client that must not talk to the member being removed: it stops serving
// once removed and the answer would be lost.
func ClientURLsExcept(members []Member, id uint64) []string {
	var urls []string
	for _, m := range members {
		if m.ID != id {
			urls = append(urls, m.ClientURLs...)
		}
	}
	return urls
}

func findByPeerURL(members []Member, peerURL string) (Member, bool) {
	i := slices.IndexFunc(members, func(m Member) bool { return slices.Contains(m.PeerURLs, peerURL) })
	if i < 0 {
		return Member{}, false
	}
	return members[i], true
}

func findByName(members []Member, name string) (Member, bool) {
	i := slices.IndexFunc(members, func(m Member) bool { return name != "" && m.Name == name })
	if i < 0 {
		return Member{}, false
	}
	return members[i], true
}

func without(members []Member, id uint64) []Member {
	return slices.DeleteFunc(slices.Clone(members), func(m Member) bool { return m.ID == id })
}
