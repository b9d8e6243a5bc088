package etcd_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/etcd/etcdtest"
)

func TestLeaderSkipsDeadMembers(t *testing.T) {
	f := etcdtest.New(member(1, "a", false), member(2, "b", true), member(3, "c", true))
	f.LeaderID = 3
	leader, err := etcd.Leader(context.Background(), f, listed(t, f))
	if err != nil || leader != 3 {
		t.Fatalf("leader = %x, %v", leader, err)
	}
	if f.Count("Status") != 1 {
		t.Errorf("asked %d members, want only the first healthy one: %v", f.Count("Status"), f.Calls())
	}
	f.LeaderID = 0
	if _, err := etcd.Leader(context.Background(), f, listed(t, f)); !errors.Is(err, etcd.ErrNoLeader) {
		t.Errorf("without a leader: %v", err)
	}
}
