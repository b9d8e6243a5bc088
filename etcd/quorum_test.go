package etcd_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/etcd"
)

// member is a started voting member named name with predictable URLs.
func member(id uint64, name string, healthy bool) etcd.Member {
	return etcd.Member{ID: id, Name: name, PeerURLs: []string{peerURL(name)}, ClientURLs: []string{clientURL(name)},
		Healthy: healthy}
}

func learner(m etcd.Member) etcd.Member { m.IsLearner = true; return m }

func peerURL(name string) string   { return "https://" + name + ".test:2380" }
func clientURL(name string) string { return "https://" + name + ".test:2379" }

func TestCheckAddQuorum(t *testing.T) {
	a, b, c, d := member(1, "a", true), member(2, "b", true), member(3, "c", true), member(4, "d", true)
	down := func(m etcd.Member) etcd.Member { m.Healthy = false; return m }
	for _, tc := range []struct {
		name    string
		members []etcd.Member
		refuse  []string // members the refusal must name; nil: allowed
	}{
		{"one healthy", []etcd.Member{a}, nil},
		{"two healthy", []etcd.Member{a, b}, nil},
		{"three healthy", []etcd.Member{a, b, c}, nil},
		{"unhealthy learner does not vote", []etcd.Member{a, learner(down(b))}, nil},
		{"four, one down: 3 healthy meet 5's quorum", []etcd.Member{a, b, c, down(d)}, nil},
		{"only member down", []etcd.Member{down(a)}, []string{"a"}},
		{"two, one down", []etcd.Member{a, down(b)}, []string{"b"}},
		{"three, one down: 2 healthy miss 4's quorum", []etcd.Member{a, b, down(c)}, []string{"c"}},
		{"three, two down", []etcd.Member{a, down(b), down(c)}, []string{"b", "c"}},
		{"no voters", []etcd.Member{learner(a)}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := etcd.CheckAddQuorum(tc.members)
			checkRefusal(t, err, etcd.ErrWouldLoseQuorum, tc.refuse)
		})
	}
}

func TestCheckRemoveQuorum(t *testing.T) {
	a, b, c := member(1, "a", true), member(2, "b", true), member(3, "c", true)
	downC := c
	downC.Healthy = false
	downB := b
	downB.Healthy = false
	for _, tc := range []struct {
		name     string
		members  []etcd.Member
		removing uint64
		want     error
		refuse   []string
	}{
		{"one of three healthy", []etcd.Member{a, b, c}, 1, nil, nil},
		{"the dead one of three", []etcd.Member{a, b, downC}, 3, nil, nil},
		{"a healthy one while another is dead", []etcd.Member{a, b, downC}, 1, etcd.ErrWouldLoseQuorum, []string{"c"}},
		{"self from two, other dead", []etcd.Member{a, downB}, 1, etcd.ErrWouldLoseQuorum, []string{"b"}},
		{"dead one from two: no quorum to commit it", []etcd.Member{a, downB}, 2, etcd.ErrWouldLoseQuorum, []string{"b"}},
		{"learner", []etcd.Member{a, learner(downB)}, 2, nil, nil},
		{"unknown id", []etcd.Member{a}, 9, nil, nil},
		{"only voter", []etcd.Member{a, learner(b)}, 1, etcd.ErrLastMember, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := etcd.CheckRemoveQuorum(tc.members, tc.removing)
			if tc.want == nil {
				checkRefusal(t, err, nil, nil)
				return
			}
			checkRefusal(t, err, tc.want, tc.refuse)
		})
	}
}

// checkRefusal wants err to be nil when names is nil, else to match want
// and name every member in names with its peer URL.
func checkRefusal(t *testing.T, err, want error, names []string) {
	t.Helper()
	if names == nil {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n+" ("+peerURL(n)+")") {
			t.Errorf("%q does not name member %s", err, n)
		}
	}
	if len(names) > 0 && !strings.Contains(err.Error(), "remove the dead member first") {
		t.Errorf("%q does not say how to fix it", err)
	}
}
