// Package etcd talks to the cluster's etcd members with clientv3: health
// for wait-control-plane, and (for control-plane join) membership.
package etcd

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/kubestrap/kubestrap/layout"
)

// TLSFiles are the client credentials for etcd (the healthcheck-client
// or apiserver-etcd-client pair) and the etcd CA.
type TLSFiles struct {
	CA, Cert, Key string
}

// HealthcheckClient is kubestrap's own etcd client credential under
// certDir: the healthcheck-client pair, as kubeadm's etcd probes use.
func HealthcheckClient(certDir string) TLSFiles {
	return TLSFiles{CA: filepath.Join(certDir, layout.EtcdCACert), Cert: filepath.Join(certDir, layout.EtcdHealthcheckClientCert),
		Key: filepath.Join(certDir, layout.EtcdHealthcheckClientKey)}
}

// APIServerClient is the API server's etcd client credential under
// certDir, which may add and promote members.
func APIServerClient(certDir string) TLSFiles {
	return TLSFiles{CA: filepath.Join(certDir, layout.EtcdCACert), Cert: filepath.Join(certDir, layout.APIServerEtcdClientCert),
		Key: filepath.Join(certDir, layout.APIServerEtcdClientKey)}
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
