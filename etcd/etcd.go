// Package etcd talks to the cluster's etcd members with clientv3: health
// for wait-control-plane, and (for control-plane join) membership.
package etcd

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TLSFiles are the client credentials for etcd (the healthcheck-client
// or apiserver-etcd-client pair) and the etcd CA.
type TLSFiles struct {
	CA, Cert, Key string
}

func (f TLSFiles) config() (*tls.Config, error) {
	return transport.TLSInfo{TrustedCAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key}.ClientConfig()
}

// Client opens a clientv3 client; the caller closes it.
func Client(endpoints []string, files TLSFiles) (*clientv3.Client, error) {
	tlsCfg, err := files.config()
	if err != nil {
		return nil, fmt.Errorf("etcd client credentials: %w", err)
	}
	return clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsCfg, DialTimeout: 2 * time.Second,
		Logger: zap.NewNop()})
}

// Healthy asks one member for its status and does a linearizable read, as
// etcdctl endpoint health does: a member without quorum fails the read.
func Healthy(ctx context.Context, c *clientv3.Client, endpoint string) error {
	if _, err := c.Status(ctx, endpoint); err != nil {
		return err
	}
	_, err := c.Get(ctx, "health")
	return err
}
