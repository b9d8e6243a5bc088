package resetflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/staticpods"
)

// removeEtcdMember removes this node's member from its etcd cluster,
// talking to the other members directly, so it works with the API server
// down. It refuses (EtcdRefusedError) when the members left would have no
// quorum, unless forced. The only member is not removed at all: there is
// no cluster left to remove it from, so it is not retried for a minute as
// kubeadm does.
func removeEtcdMember(ctx context.Context, d ResetData) (string, error) {
	le, err := d.LocalEtcd()
	if err != nil {
		return "", err
	}
	c, err := d.EtcdClient(ctx)
	if err != nil {
		return "", &EtcdRefusedError{Reason: fmt.Sprintf("connect to etcd: %v", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, EtcdTimeout)
	defer cancel()
	status := func(ctx context.Context, u string) error { _, err := c.Status(ctx, u); return err }
	members, err := etcd.Members(ctx, c, status)
	if err != nil {
		return "", &EtcdRefusedError{Reason: fmt.Sprintf("no etcd member answered with quorum: %v", err)}
	}
	// Talk to the others: the member being removed stops serving.
	for _, m := range members {
		if m.Name == le.Name || slices.Contains(m.PeerURLs, le.PeerURL) {
			if others := etcd.ClientURLsExcept(members, m.ID); len(others) > 0 {
				c.SetEndpoints(others...)
			}
		}
	}
	removed, err := etcd.RemoveSelf(ctx, c, members, le.Name, le.PeerURL, d.Force(), phases.WaitSpec(d.Out(), "remove-etcd-member"))
	switch {
	case errors.Is(err, etcd.ErrNotAMember):
		return "member " + le.Name + " is not in the etcd cluster: nothing to remove", nil
	case errors.Is(err, etcd.ErrLastMember):
		return "member " + le.Name + " is the only one: not removed (its data goes with the data dir)", nil
	case err != nil:
		return "", &EtcdRefusedError{Reason: err.Error()}
	}
	d.Report().Removed(removedMemberLine(le))
	return fmt.Sprintf("removed etcd member %s (%x) through the other members", le.Name, removed.ID), nil
}

// keepRegisteredData leaves the etcd data dir when this node's member is
// still registered in a cluster with other members that answers: -f left
// it (no quorum to remove it), or remove-files runs alone. Its data may be
// what the cluster needs to get quorum back; wiping it is not reset's call.
// It reports whether the data was kept.
func keepRegisteredData(ctx context.Context, d ResetData, dataDir string) bool {
	le, err := d.LocalEtcd()
	if err != nil || le == nil || memberRemoved(d, le) {
		return false
	}
	c, err := d.EtcdClient(ctx)
	if err != nil {
		return false
	}
	// Short: with this node's etcd stopped and no other member known, no
	// one answers, and every single-node reset would wait for nothing.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.MemberList(ctx)
	if err != nil {
		return false
	}
	registered, others := false, []string{}
	for _, m := range resp.Members {
		if m.Name == le.Name || slices.Contains(m.PeerURLs, le.PeerURL) {
			registered = true
			continue
		}
		others = append(others, m.Name)
	}
	if !registered || len(others) == 0 {
		return false
	}
	d.Report().Leave(cleanup.Left{What: dataDir, Why: fmt.Sprintf("etcd member %s is still registered in the cluster "+
		"with %s, which answers: its data is not reset's to wipe", le.Name, strings.Join(others, ", ")),
		HowToRevert: "remove the member first (`kubestrap etcd members remove " + le.Name + "` on a healthy " +
			"control plane), then `kubestrap reset phase remove-files`"})
	return true
}

// memberRemoved says remove-etcd-member removed le in this run.
func memberRemoved(d ResetData, le *staticpods.LocalEtcd) bool {
	return slices.Contains(d.Report().Snapshot().Removed, removedMemberLine(le))
}

func removedMemberLine(le *staticpods.LocalEtcd) string {
	return "etcd member " + le.Name + " (" + le.PeerURL + ")"
}
