package phases

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/kubestrap/kubestrap/etcd"
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
	removed, err := etcd.RemoveSelf(ctx, c, members, le.Name, le.PeerURL, d.Force(), waitSpecOf(d.Out(), "remove-etcd-member"))
	switch {
	case errors.Is(err, etcd.ErrNotAMember):
		return "member " + le.Name + " is not in the etcd cluster: nothing to remove", nil
	case errors.Is(err, etcd.ErrLastMember):
		return "member " + le.Name + " is the only one: not removed (its data goes with the data dir)", nil
	case err != nil:
		return "", &EtcdRefusedError{Reason: err.Error()}
	}
	d.Report().Removed("etcd member " + le.Name + " (" + le.PeerURL + ")")
	return fmt.Sprintf("removed etcd member %s (%x) through the other members", le.Name, removed.ID), nil
}
