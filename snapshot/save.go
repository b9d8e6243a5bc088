// Package snapshot is day-2 care of this node's etcd member: save a
// snapshot through clientv3's Maintenance API with a sha256 and a JSON
// sidecar, list and prune the snapshot dir, check a file (its hash and
// etcd's own reading of it), restore one on a single control-plane cluster
// with etcdutl's restore library, and schedule saves with a systemd timer.
package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// DefaultDir is where snapshots go unless told otherwise. It is outside
// /etc/kubernetes and the etcd data dir, so reset leaves it.
const DefaultDir = layout.StateDir + "/snapshots"

// fileMode and dirMode keep snapshots private: they hold every Secret.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// Source is the part of clientv3.Maintenance a save uses; *clientv3.Client
// has it, tests fake it. The snapshot comes from the member the client
// talks to, so the caller points it at exactly one endpoint.
type Source interface {
	SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error)
	Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error)
}

var _ Source = (*clientv3.Client)(nil)

// Info is a snapshot's sidecar, FILE.json, and a row of `snapshot list`.
// Its JSON form is stable.
type Info struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Time is when the save began, in UTC.
	Time      time.Time `json:"time"`
	ClusterID string    `json:"clusterID"`
	Member    string    `json:"member"`
	// Revision is the store's revision as the member reported it right
	// before the snapshot, which holds at least this revision (`snapshot
	// status` reads the exact one from the file).
	Revision int64 `json:"revision"`
	// EtcdVersion is the storage version of the member that made it.
	EtcdVersion       string `json:"etcdVersion,omitempty"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// EncryptionKeys name the keys (provider/name) that decrypt the
	// snapshot's Secrets; their copy is KeysPath(file).
	EncryptionKeys []string `json:"encryptionKeys,omitempty"`
}

// SaveOptions say where a snapshot goes and what its sidecar records.
type SaveOptions struct {
	// Path is the snapshot file; its sidecar is Path + ".json".
	Path string
	// Endpoint is the member's client URL, asked for the cluster id and
	// revision (the snapshot stream carries neither).
	Endpoint          string
	Member            string
	KubernetesVersion string
	// KeysFile is the API server's encryption configuration ("" for none),
	// copied beside the snapshot.
	KeysFile string
	Now      time.Time
}

// DefaultName is a snapshot's file name when none is given; Prune only
// ever removes files named like this.
func DefaultName(node string, t time.Time) string {
	return "etcd-" + node + "-" + t.UTC().Format("20060102T150405Z") + ".db"
}

// SidecarPath is where a snapshot's Info is.
func SidecarPath(file string) string { return file + ".json" }

// Save streams a snapshot into o.Path and writes its sidecar. The stream
// goes to a temp file in the same dir that is synced and then renamed, so
// a failed or interrupted save never leaves a truncated file under the
// final name (where a restore or the retention count would take it for a
// good one).
func Save(ctx context.Context, src Source, o SaveOptions) (*Info, error) {
	st, err := src.Status(ctx, o.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("etcd member %s: %w", o.Endpoint, err)
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), dirMode); err != nil {
		return nil, err
	}
	keys, err := saveKeys(o.KeysFile, o.Path)
	if err != nil {
		return nil, err
	}
	resp, err := src.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("start the etcd snapshot: %w", err)
	}
	defer func() { _ = resp.Snapshot.Close() }()
	sum, size, err := writeSynced(o.Path, resp.Snapshot)
	if err != nil {
		return nil, err
	}
	info := &Info{File: filepath.Base(o.Path), SHA256: sum, Size: size, Time: o.Now.UTC(), Member: o.Member,
		EtcdVersion: resp.Version, KubernetesVersion: o.KubernetesVersion, EncryptionKeys: keys}
	if h := st.Header; h != nil {
		info.ClusterID, info.Revision = strconv.FormatUint(h.ClusterId, 16), h.Revision
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := node.WriteFileAtomic(SidecarPath(o.Path), append(b, '\n'), fileMode); err != nil {
		return nil, err
	}
	return info, syncDir(filepath.Dir(o.Path))
}

// writeSynced copies r into path through a synced temp file and returns
// the content's sha256 and size.
func writeSynced(path string, r io.Reader) (sum string, size int64, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(fileMode); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	if size, err = io.Copy(io.MultiWriter(f, h), r); err != nil {
		return "", 0, fmt.Errorf("receive the etcd snapshot: %w", err)
	}
	if size == 0 {
		return "", 0, errors.New("receive the etcd snapshot: the member sent no data")
	}
	if err = f.Sync(); err != nil {
		return "", 0, err
	}
	if err = f.Close(); err != nil {
		return "", 0, err
	}
	// etcd appends its own sha256 to the stream: a snapshot cut short or
	// garbled on the way must not take the final name, where it would be
	// restored or count towards retention (which prunes a good one).
	if err = checkEtcdChecksum(f.Name(), path); err != nil {
		return "", 0, err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

func checkEtcdChecksum(tmp, path string) error {
	c, err := Verify(tmp)
	if err != nil {
		return fmt.Errorf("the etcd snapshot received for %s fails its own checksum, so it was not kept: %w", path, err)
	}
	if c.EtcdChecksum != "ok" {
		return fmt.Errorf("the etcd snapshot received for %s has no etcd checksum at its end (%d bytes), so it was not "+
			"kept: was it cut short?", path, fileSize(tmp))
	}
	return nil
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// syncDir makes the renames in dir durable: without it a power cut right
// after a save may lose the new name although the data was synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
