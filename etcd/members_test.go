package etcd_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/etcd/etcdtest"
	"github.com/kubestrap/kubestrap/poll"
)

var fast = poll.Spec{Interval: time.Millisecond, Timeout: 2 * time.Second}

func listed(t *testing.T, f *etcdtest.Fake) []etcd.Member {
	t.Helper()
	ms, err := etcd.Members(context.Background(), f, f.Health)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestMembersProbesStartedMembersOnly(t *testing.T) {
	down := member(2, "b", false)
	f := etcdtest.New(member(1, "a", true), down, etcd.Member{ID: 3, PeerURLs: []string{peerURL("c")}, IsLearner: true})
	got := listed(t, f)
	if want := []bool{true, false, false}; len(got) != 3 || got[0].Healthy != want[0] || got[1].Healthy != want[1] ||
		got[2].Healthy != want[2] {
		t.Fatalf("health: %+v", got)
	}
	noProbe, err := etcd.Members(context.Background(), f, nil)
	if err != nil || noProbe[0].Healthy {
		t.Errorf("nil healthOf: %+v, %v", noProbe, err)
	}
	f.FailNext("MemberList", errors.New("boom"))
	if _, err := etcd.Members(context.Background(), f, f.Health); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("list failure: %v", err)
	}
}

func TestAddLearnerToHealthyCluster(t *testing.T) {
	for _, n := range []int{1, 2} {
		existing := []etcd.Member{member(1, "a", true), member(2, "b", true)}[:n]
		f := etcdtest.New(existing...)
		j, err := etcd.AddLearner(context.Background(), f, listed(t, f), "c", peerURL("c"), false, fast)
		if err != nil {
			t.Fatalf("%d members: %v", n, err)
		}
		if !j.Self.IsLearner || j.Self.Started() || len(j.All) != n+1 || j.Note != "" || j.DataIsStale() {
			t.Errorf("%d members: %+v", n, j)
		}
		if !j.All[0].Healthy {
			t.Errorf("%d members: probed health lost: %+v", n, j.All)
		}
		if got := f.Members(); len(got) != n+1 || got[n].ID != j.Self.ID {
			t.Errorf("%d members: cluster %+v", n, got)
		}
	}
}

func TestAddLearnerIsIdempotent(t *testing.T) {
	// A join killed after the add, before etcd started: the learner is
	// listed without a name, and this host has no etcd data.
	f := etcdtest.New(member(1, "a", true), member(2, "b", true),
		etcd.Member{ID: 7, PeerURLs: []string{peerURL("c")}, IsLearner: true})
	j, err := etcd.AddLearner(context.Background(), f, listed(t, f), "c", peerURL("c"), false, fast)
	if err != nil {
		t.Fatal(err)
	}
	if j.Self.ID != 7 || len(j.All) != 3 || !strings.Contains(j.Note, "reusing") || j.DataIsStale() {
		t.Errorf("%+v", j)
	}
	if n := f.Count("MemberAddAsLearner") + f.Count("MemberRemove"); n != 0 {
		t.Errorf("changed membership on a re-run: %v", f.Calls())
	}
	// Started since, with data: still the same member.
	f.Start(7, "c", clientURL("c"))
	if again, err := etcd.AddLearner(context.Background(), f, listed(t, f), "c", peerURL("c"), true, fast); err != nil ||
		again.Self.ID != 7 || again.DataIsStale() {
		t.Errorf("second re-run: %+v, %v", again, err)
	}
}

// A control-plane join killed after its member became a voter, re-run:
// the member is registered, started and this host holds its data. It is
// this node, live: nothing is removed and the data is not stale.
func TestAddLearnerKeepsLiveVoter(t *testing.T) {
	f := etcdtest.New(member(1, "a", true), member(2, "b", true), member(3, "c", true))
	j, err := etcd.AddLearner(context.Background(), f, listed(t, f), "c", peerURL("c"), true, fast)
	if err != nil {
		t.Fatal(err)
	}
	if j.Self.ID != 3 || j.Self.IsLearner || j.DataIsStale() || len(j.Removed) != 0 {
		t.Errorf("a live voter was treated as stale: %+v", j)
	}
	if !strings.Contains(j.Note, "already etcd member") {
		t.Errorf("note %q", j.Note)
	}
	if n := f.Count("MemberAddAsLearner") + f.Count("MemberRemove"); n != 0 {
		t.Errorf("changed membership on a re-run: %v", f.Calls())
	}
}

func TestAddLearnerReplacesStaleMember(t *testing.T) {
	oldSelf := member(3, "c", false)
	for _, tc := range []struct {
		name    string
		stale   etcd.Member
		peer    string
		hasData bool
	}{
		{"same name, old peer URL", oldSelf, "https://10.9.9.9:2380", true},
		{"same peer URL, re-imaged host without data", oldSelf, peerURL("c"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := etcdtest.New(member(1, "a", true), member(2, "b", true), tc.stale)
			j, err := etcd.AddLearner(context.Background(), f, listed(t, f), "c", tc.peer, tc.hasData, fast)
			if err != nil {
				t.Fatal(err)
			}
			if j.Self.ID == 3 || len(j.All) != 3 || f.Count("MemberRemove") != 1 {
				t.Errorf("%+v, calls %v", j, f.Calls())
			}
			if !strings.Contains(j.Note, "stale") || !strings.Contains(j.Note, oldSelf.String()) {
				t.Errorf("note %q", j.Note)
			}
			if !j.DataIsStale() || len(j.Removed) != 1 || j.Removed[0].ID != 3 {
				t.Errorf("removed %+v: the local data belongs to the removed member", j.Removed)
			}
		})
	}
}

func TestAddLearnerRefusesWithoutChanges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []etcd.Member
		want    []string
	}{
		{"two of three down", []etcd.Member{member(1, "a", true), member(2, "b", false), member(3, "x", false)},
			[]string{"b", "x"}},
		{"stale member of two, no quorum", []etcd.Member{member(1, "a", true), member(2, "c", false)},
			[]string{"c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := etcdtest.New(tc.members...)
			_, err := etcd.AddLearner(context.Background(), f, listed(t, f), "c", "https://10.9.9.9:2380", false, fast)
			checkRefusal(t, err, etcd.ErrWouldLoseQuorum, tc.want)
			if n := f.Count("MemberAddAsLearner") + f.Count("MemberRemove"); n != 0 {
				t.Errorf("changed membership: %v", f.Calls())
			}
		})
	}
}

func TestAddLearnerRetriesTransientRefusals(t *testing.T) {
	f := etcdtest.New(member(1, "a", true))
	f.FailNext("MemberAddAsLearner", rpctypes.ErrUnhealthy, rpctypes.ErrTooManyLearners)
	j, err := etcd.AddLearner(context.Background(), f, listed(t, f), "c", peerURL("c"), false, fast)
	if err != nil || j.Self.ID == 0 || f.Count("MemberAddAsLearner") != 3 {
		t.Errorf("self %+v, %v, calls %v", j.Self, err, f.Calls())
	}
	if _, err := etcd.AddLearner(context.Background(), f, nil, "d", "not a url", false, fast); err == nil {
		t.Error("accepted a bad peer URL")
	}
}

func TestPromote(t *testing.T) {
	f := etcdtest.New(member(1, "a", true), etcd.Member{ID: 2, PeerURLs: []string{peerURL("b")}, IsLearner: true})
	short := fast
	short.Timeout = 50 * time.Millisecond
	if err := etcd.Promote(context.Background(), f, 2, short); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("unstarted learner: %v", err)
	}
	if n := f.Count("MemberPromote"); n != 0 {
		t.Errorf("promoted an unstarted learner %d times", n)
	}
	f.Start(2, "b", clientURL("b"))
	f.NotInSync = 2
	if err := etcd.Promote(context.Background(), f, 2, fast); err != nil {
		t.Fatal(err)
	}
	if n := f.Count("MemberPromote"); n != 3 || f.Members()[1].IsLearner {
		t.Errorf("promote calls %d, members %+v", n, f.Members())
	}
	if err := etcd.Promote(context.Background(), f, 2, fast); err != nil || f.Count("MemberPromote") != 3 {
		t.Errorf("already promoted: %v, calls %v", err, f.Calls())
	}
	if err := etcd.Promote(context.Background(), f, 9, fast); !errors.Is(err, etcd.ErrNotAMember) {
		t.Errorf("removed member: %v", err)
	}
}

func TestRemoveSelf(t *testing.T) {
	a, b, c := member(1, "a", true), member(2, "b", true), member(3, "c", true)
	downB := b
	downB.Healthy = false
	for _, tc := range []struct {
		name    string
		members []etcd.Member
		force   bool
		peer    string
		want    error
		removes int
	}{
		{"one of three", []etcd.Member{a, b, c}, false, peerURL("a"), nil, 1},
		{"by name when the peer URL changed", []etcd.Member{a, b, c}, false, "https://10.9.9.9:2380", nil, 1},
		{"other of two dead", []etcd.Member{a, downB}, false, peerURL("a"), etcd.ErrWouldLoseQuorum, 0},
		{"other of two dead, forced", []etcd.Member{a, downB}, true, peerURL("a"), nil, 1},
		{"only member", []etcd.Member{a}, true, peerURL("a"), etcd.ErrLastMember, 0},
		{"already removed", []etcd.Member{b, c}, false, peerURL("a"), etcd.ErrNotAMember, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := etcdtest.New(tc.members...)
			removed, err := etcd.RemoveSelf(context.Background(), f, tc.members, "a", tc.peer, tc.force, fast)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if n := f.Count("MemberRemove"); n != tc.removes {
				t.Errorf("MemberRemove called %d times, want %d", n, tc.removes)
			}
			if tc.want == nil && (removed.ID != 1 || len(f.Members()) != len(tc.members)-1) {
				t.Errorf("removed %+v, left %+v", removed, f.Members())
			}
			if errors.Is(tc.want, etcd.ErrWouldLoseQuorum) && !strings.Contains(err.Error(), "-f") {
				t.Errorf("%q does not mention -f", err)
			}
		})
	}
}

func TestRemoveSelfRetriesAndToleratesLostAnswers(t *testing.T) {
	members := []etcd.Member{member(1, "a", true), member(2, "b", true), member(3, "c", true)}
	f := etcdtest.New(members...)
	f.FailNext("MemberRemove", rpctypes.ErrLeaderChanged, rpctypes.ErrMemberNotFound)
	if _, err := etcd.RemoveSelf(context.Background(), f, members, "a", peerURL("a"), false, fast); err != nil {
		t.Fatal(err)
	}
	if n := f.Count("MemberRemove"); n != 2 {
		t.Errorf("calls %v: not-found after a retry must count as removed", f.Calls())
	}
}

func TestInitialCluster(t *testing.T) {
	all := []etcd.Member{
		{ID: 0x10, PeerURLs: []string{peerURL("c")}, IsLearner: true},
		member(2, "b", true),
		member(1, "a", true),
		{ID: 0x1f, PeerURLs: []string{peerURL("other")}, IsLearner: true},
	}
	want := "1f=" + peerURL("other") + ",a=" + peerURL("a") + ",b=" + peerURL("b") + ",c=" + peerURL("c")
	if got := etcd.InitialCluster(all, "c", peerURL("c")); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := etcd.InitialCluster(all[1:3], "c", peerURL("c")); got != "a="+peerURL("a")+",b="+peerURL("b")+",c="+peerURL("c") {
		t.Errorf("self missing from the list: %s", got)
	}
}

func TestClientURLsExcept(t *testing.T) {
	got := etcd.ClientURLsExcept([]etcd.Member{member(1, "a", true), member(2, "b", true)}, 1)
	if len(got) != 1 || got[0] != clientURL("b") {
		t.Errorf("got %v", got)
	}
}

func TestHealthOfNeedsCredentials(t *testing.T) {
	probe := etcd.HealthOf(etcd.TLSFiles{CA: "/nonexistent/ca.crt", Cert: "/nonexistent/c.crt", Key: "/nonexistent/c.key"})
	if err := probe(context.Background(), "https://127.0.0.1:2379"); err == nil ||
		!strings.Contains(err.Error(), "etcd client credentials") {
		t.Errorf("got %v", err)
	}
}

func TestPromoteLostAnswerCountsAsPromoted(t *testing.T) {
	// A promotion whose answer was lost: etcd lists a learner a moment
	// longer, then refuses to promote a voter.
	f := etcdtest.New(member(1, "a", true), learner(member(2, "b", true)))
	f.FailNext("MemberPromote", rpctypes.ErrMemberNotLearner)
	if err := etcd.Promote(context.Background(), f, 2, fast); err != nil || f.Count("MemberPromote") != 1 {
		t.Errorf("%v, calls %v", err, f.Calls())
	}
}
