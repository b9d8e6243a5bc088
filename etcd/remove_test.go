package etcd_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/etcd/etcdtest"
)

// The dead member of a lost VM goes from any healthy control plane, by
// name or by ID, with reset's quorum rules.
func TestRemoveOther(t *testing.T) {
	dead := member(3, "c", false)
	for _, tc := range []struct {
		name, arg string
		members   []etcd.Member
		force     bool
		want      error // nil: removed
		removed   uint64
	}{
		{"dead member by name", "c", []etcd.Member{member(1, "a", true), member(2, "b", true), dead}, false, nil, 3},
		{"dead member by hex ID", "3", []etcd.Member{member(1, "a", true), member(2, "b", true), dead}, false, nil, 3},
		{"this node's own", "a", []etcd.Member{member(1, "a", true), member(2, "b", true), dead}, false, etcd.ErrIsSelf, 0},
		{"unknown", "zz", []etcd.Member{member(1, "a", true), dead}, false, etcd.ErrNotAMember, 0},
		{"would lose quorum", "b", []etcd.Member{member(1, "a", true), member(2, "b", true), dead}, false,
			etcd.ErrWouldLoseQuorum, 0},
		{"forced", "b", []etcd.Member{member(1, "a", true), member(2, "b", true), dead}, true, nil, 2},
		{"last voter", "b", []etcd.Member{member(2, "b", true), learner(member(1, "a", true))}, true, etcd.ErrLastMember, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := etcdtest.New(tc.members...)
			m, err := etcd.RemoveOther(context.Background(), f, tc.members, tc.arg, peerURL("a"), tc.force, fast)
			if tc.want != nil {
				if !errors.Is(err, tc.want) || f.Count("MemberRemove") != 0 {
					t.Fatalf("err = %v (want %v), calls %v", err, tc.want, f.Calls())
				}
				return
			}
			if err != nil || m.ID != tc.removed || len(f.Members()) != len(tc.members)-1 {
				t.Fatalf("removed %+v, %v; left %+v", m, err, f.Members())
			}
		})
	}
	_, err := etcd.FindMember([]etcd.Member{member(1, "a", true)}, "nope")
	if err == nil || !strings.Contains(err.Error(), "a (ID 1)") {
		t.Errorf("FindMember does not list the members: %v", err)
	}
}
