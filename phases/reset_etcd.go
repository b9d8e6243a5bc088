package phases

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// removeEtcdMember removes this node's member from its etcd cluster,
// talking to the other members directly, so it works with the API server
// down. It refuses (EtcdRefusedError) when the members left would have no
// quorum, unless forced. The only member is not removed at all: there is
// no cluster left to remove it from, so it is not retried for a minute as
// kubeadm does. The membership helpers of package etcd (Members, RemoveSelf
// and their sentinel errors) take over this body when they land.
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
	list, err := c.MemberList(ctx)
	if err != nil {
		return "", &EtcdRefusedError{Reason: fmt.Sprintf("no etcd member answered with quorum: %v", err)}
	}
	var self uint64
	var voters, healthy int
	var others []string
	for _, m := range list.Members {
		switch {
		case m.Name == le.Name || slices.Contains(m.PeerURLs, le.PeerURL):
			self = m.ID
		case !m.IsLearner:
			voters++
			if slices.ContainsFunc(m.ClientURLs, func(u string) bool {
				sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
				defer scancel()
				_, err := c.Status(sctx, u)
				return err == nil
			}) {
				healthy++
			}
			fallthrough
		default:
			others = append(others, m.ClientURLs...)
		}
	}
	switch {
	case self == 0:
		return "member " + le.Name + " is not in the etcd cluster: nothing to remove", nil
	case len(list.Members) == 1:
		return "member " + le.Name + " is the only one: not removed (its data goes with the data dir)", nil
	case healthy < voters/2+1 && !d.Force():
		return "", &EtcdRefusedError{Reason: fmt.Sprintf("removing member %s would leave %d voting member(s), %d of them "+
			"healthy: the etcd cluster would lose quorum", le.Name, voters, healthy)}
	}
	c.SetEndpoints(others...)
	if _, err := c.MemberRemove(ctx, self); err != nil {
		return "", &EtcdRefusedError{Reason: fmt.Sprintf("remove etcd member %s: %v", le.Name, err)}
	}
	d.Report().Removed("etcd member " + le.Name + " (" + le.PeerURL + ")")
	return "removed etcd member " + le.Name + " through the other members", nil
}
