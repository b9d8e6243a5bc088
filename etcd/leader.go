package etcd

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Statuser asks one member for its status; *clientv3.Client has it (as
// clientv3.Maintenance), and etcdtest.Fake stands in for tests.
type Statuser interface {
	Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error)
}

var _ Statuser = (*clientv3.Client)(nil)

// ErrNoLeader says no member that answered knows a leader: the cluster
// has lost quorum (or is electing one right now).
var ErrNoLeader = errors.New("etcd has no leader")

// Leader returns the id of the leader as the first answering healthy
// member reports it. Members decide this by raft, so any one of them that
// has quorum knows it; asking them in turn only skips dead ones.
func Leader(ctx context.Context, s Statuser, members []Member) (uint64, error) {
	var errs []error
	for _, m := range members {
		if !m.Healthy || len(m.ClientURLs) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, healthTimeout)
		st, err := s.Status(cctx, m.ClientURLs[0])
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
			continue
		}
		if st.Leader != 0 {
			return st.Leader, nil
		}
	}
	return 0, errors.Join(append([]error{ErrNoLeader}, errs...)...)
}
