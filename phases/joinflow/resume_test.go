package joinflow

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases/phasestest"
	"github.com/kubestrap/kubestrap/preflight"
)

func TestJoinResumeIgnoresMatchJoinChecks(t *testing.T) {
	c := phasestest.JoinConfig(t)
	want := phasestest.OwnChecks(preflight.JoinChecks(&node.Host{}, c, 35))
	if got := phasestest.Sorted(joinResumeIgnores(c)); !slices.Equal(got, want) {
		t.Errorf("joinResumeIgnores = %v, JoinChecks has %v", got, want)
	}
	for _, n := range []string{"Port-10250", "DirAvailable--etc-kubernetes-manifests",
		"FileAvailable--etc-kubernetes-pki-ca.crt", "FileAvailable--etc-kubernetes-kubelet.conf"} {
		if !slices.Contains(want, n) {
			t.Errorf("JoinChecks lacks %s: %v", n, want)
		}
	}
}

// A resumed control-plane join whose member is live keeps its data; only
// data of a member AddLearner removed is set aside.
func TestSetAsideStaleDataOnlyAfterARemoval(t *testing.T) {
	for _, tc := range []struct {
		name  string
		j     etcd.Joined
		moved bool
	}{
		{"resumed join, live voter", etcd.Joined{Self: etcd.Member{ID: 3, Name: "c"},
			Note: "this node is already etcd member c (3)"}, false},
		{"stale member removed", etcd.Joined{Self: etcd.Member{ID: 9}, Removed: []etcd.Member{{ID: 3, Name: "c"}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			wal := filepath.Join(dir, "member", "wal")
			if err := os.MkdirAll(wal, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := setAsideStaleData(tc.j, dir); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(wal); (err != nil) != tc.moved {
				t.Errorf("member/ moved = %v, want %v", err != nil, tc.moved)
			}
			stale, _ := filepath.Glob(filepath.Join(dir, "member.stale-*"))
			if (len(stale) == 1) != tc.moved {
				t.Errorf("set aside: %v", stale)
			}
		})
	}
}
