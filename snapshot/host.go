package snapshot

import (
	"context"
	"io"
	"path/filepath"
	"time"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/staticpods"
)

// Saved is what SaveLocal did.
type Saved struct {
	Path string
	Info *Info
	// Pruned are the older snapshots retention removed.
	Pruned []string
}

// SaveLocal saves a snapshot of this node's member into file (dir/DefaultName
// when file is empty) and then keeps the newest retain in file's dir.
func SaveLocal(ctx context.Context, root node.Root, file, dir string, retain int, now time.Time) (*Saved, error) {
	le, err := staticpods.LocalMember(root)
	if err != nil {
		return nil, err
	}
	if file == "" {
		file = filepath.Join(dir, DefaultName(le.Name, now))
	}
	// Only this member: a client balancing over several would stream
	// another node's snapshot under this node's name.
	self := le.Endpoints[0]
	c, err := etcd.Client([]string{self}, le.HostTLS(root))
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	keys, err := staticpods.EncryptionConfigPath(root)
	if err != nil {
		return nil, err
	}
	s := &Saved{Path: file}
	if s.Info, err = Save(ctx, c, SaveOptions{Path: file, Endpoint: self, Member: le.Name,
		KubernetesVersion: KubernetesVersion(root), KeysFile: keys, Now: now}); err != nil {
		return nil, err
	}
	s.Pruned, err = Prune(filepath.Dir(file), retain)
	return s, err
}

// KubernetesVersion is the version init recorded; "" on other nodes.
func KubernetesVersion(root node.Root) string {
	docs, err := config.ReadFile(root.Path(filepath.Join(layout.KubernetesDir, layout.InitRecord)))
	if err != nil {
		return ""
	}
	c, err := config.InitFrom(docs)
	if err != nil {
		return ""
	}
	return c.Cluster.KubernetesVersion
}

// HostRestore wires a restore to the host: the member from its manifest,
// the cluster through clientv3, the runtime through the CRI, and init's
// probes. The caller closes the returned closer.
func HostRestore(root node.Root, file string, force bool, criEndpoint string, out io.Writer) (RestoreOptions, io.Closer, error) {
	le, err := staticpods.LocalMember(root)
	if err != nil {
		return RestoreOptions{}, nil, err
	}
	rt, conn, err := node.DialCRI(criEndpoint)
	if err != nil {
		return RestoreOptions{}, nil, err
	}
	manifests := root.Path(layout.ManifestDir)
	lineage := root.Path(LineageFile)
	keys, err := staticpods.EncryptionConfigPath(root)
	if err != nil {
		_ = conn.Close()
		return RestoreOptions{}, nil, err
	}
	return RestoreOptions{File: file, KeysFile: keys, ForceNewCluster: force, Local: le, Root: root, ManifestDir: manifests,
		ParkDir: ParkDir(root), Members: members(le, root), Runtime: rt, Out: out,
		LivePeers: hostLivePeers(root, le), ClusterID: hostClusterID(root, le),
		KnownClusterIDs:  func() []string { return readLineage(lineage) },
		RecordClusterIDs: func(ids ...string) error { return appendLineage(lineage, ids...) },
		WaitHealthy: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
			defer cancel()
			return staticpods.WaitHealthy(ctx, manifests, criEndpoint, out, "restore", stopped...)
		},
		Interval: 500 * time.Millisecond, StopTimeout: 2 * time.Minute}, conn, nil
}

// members lists the cluster through every member the manifest knows, with
// a short timeout: a stopped etcd is the usual reason to restore.
func members(le *staticpods.LocalEtcd, root node.Root) func(ctx context.Context) ([]etcd.Member, error) {
	return func(ctx context.Context) ([]etcd.Member, error) {
		c, err := etcd.Client(le.Endpoints, le.HostTLS(root))
		if err != nil {
			return nil, err
		}
		defer func() { _ = c.Close() }()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return etcd.Members(ctx, c, nil)
	}
}

// ParkDir is where a restore parks the etcd and API server manifests.
func ParkDir(root node.Root) string {
	return root.Path(filepath.Join(layout.KubernetesDir, staticpods.ParkDirName))
}
