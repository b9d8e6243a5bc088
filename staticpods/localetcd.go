package staticpods

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// LocalEtcd is a node's etcd member, read back from its static pod
// manifest. Its paths are node paths (not mapped into a host root).
type LocalEtcd struct {
	Name, PeerURL string
	// InitialCluster is the manifest's --initial-cluster: the members the
	// node knew when it wrote the manifest (only itself after init).
	InitialCluster string
	// Endpoints are the client URLs of this member and of every member
	// in the manifest's initial cluster.
	Endpoints []string
	DataDir   string
	// TLS is the client certificate kubestrap uses: healthcheck-client,
	// else apiserver-etcd-client.
	TLS etcd.TLSFiles
}

// ReadLocalEtcd reads a member from its manifest (a path under root): the
// static pod knows its name, URLs and data dir also when the API server
// and etcd are down. It returns nil, nil when the node runs no etcd.
func ReadLocalEtcd(manifest string, root node.Root) (*LocalEtcd, error) {
	flags, err := ReadFlags(manifest, Etcd)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read this node's etcd member from its manifest: %w", err)
	}
	le := &LocalEtcd{Name: flags["name"], PeerURL: flags["initial-advertise-peer-urls"], DataDir: flags["data-dir"],
		InitialCluster: flags["initial-cluster"]}
	le.Endpoints = strings.Split(flags["advertise-client-urls"], ",")
	for _, m := range strings.Split(le.InitialCluster, ",") {
		if _, peer, ok := strings.Cut(m, "="); ok && peer != le.PeerURL {
			if u, err := url.Parse(peer); err == nil {
				le.Endpoints = append(le.Endpoints, config.NewEndpoint(u.Hostname(), layout.EtcdClientPort).URL())
			}
		}
	}
	// The certificates dir is the one above the etcd CA the manifest names.
	certDir := layout.PKIDir
	if ca := flags["trusted-ca-file"]; ca != "" {
		certDir = filepath.Dir(filepath.Dir(ca))
	}
	le.TLS = etcd.HealthcheckClient(certDir)
	if !root.Exists(le.TLS.Cert) {
		le.TLS = etcd.APIServerClient(certDir)
	}
	return le, nil
}

// ErrNoMember says the node runs no etcd member.
var ErrNoMember = errors.New("this node runs no etcd member (no " + layout.ManifestDir + "/etcd.yaml): " +
	"run this on a control-plane node")

// LocalMember reads this node's member from its manifest in the host's
// manifest dir (under root); ErrNoMember when there is none.
func LocalMember(root node.Root) (*LocalEtcd, error) {
	le, err := ReadLocalEtcd(ManifestPath(root.Path(layout.ManifestDir), Etcd), root)
	if err == nil && le == nil {
		err = ErrNoMember
	}
	return le, err
}

// ManifestPath is where component's manifest is in the manifest dir dir.
func ManifestPath(dir, component string) string { return filepath.Join(dir, component+".yaml") }

// HostTLS is TLS with its paths mapped into root, for a client run from
// the host (or a test's stand-in for it).
func (le *LocalEtcd) HostTLS(root node.Root) etcd.TLSFiles {
	return etcd.TLSFiles{CA: root.Path(le.TLS.CA), Cert: root.Path(le.TLS.Cert), Key: root.Path(le.TLS.Key)}
}
