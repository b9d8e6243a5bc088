package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/staticpods"
)

// RestoreOptions are a restore's inputs; every side effect is injectable.
type RestoreOptions struct {
	File string
	// ForceNewCluster restores this member as a new single-member cluster
	// although the cluster has (or may have) other members.
	ForceNewCluster bool
	// Local is this node's member as its manifest describes it.
	Local *staticpods.LocalEtcd
	// Root maps Local's node paths (the data dir) to host paths.
	Root node.Root
	// ManifestDir is the kubelet's static pod dir; ParkDir the fixed dir
	// (on the same file system, outside ManifestDir) where the etcd and API
	// server manifests wait, with a journal, while etcd is stopped.
	ManifestDir, ParkDir string
	// Members lists the cluster's members; an error when etcd does not answer.
	Members func(ctx context.Context) ([]etcd.Member, error)
	// LivePeers lists the other control planes whose etcd still answers,
	// found from the cluster (control-plane Nodes, the members, the
	// manifest), not from this node's --initial-cluster alone, which on the
	// init node names only itself.
	LivePeers func(ctx context.Context) ([]string, error)
	// ClusterID is the etcd cluster ID this node's data belongs to ("" when
	// unknown); KnownClusterIDs are IDs this node's etcd had before earlier
	// restores (its lineage), whose snapshots are this cluster's too.
	ClusterID       func(ctx context.Context) (string, error)
	KnownClusterIDs func() []string
	// RecordClusterIDs notes a restore's old and new cluster ID in the lineage.
	RecordClusterIDs func(ids ...string) error
	// ForceOtherCluster restores a snapshot of another etcd cluster.
	ForceOtherCluster bool
	// Runtime tells when the stopped containers are gone.
	Runtime staticpods.ContainerLister
	// WaitHealthy waits for etcd and the API server to serve again.
	WaitHealthy func(ctx context.Context) error
	// RestoreDataDir writes a new data dir from the snapshot; nil is
	// etcdutl's restore.
	RestoreDataDir func(etcdutl.RestoreConfig) error
	// KeysFile is the API server's encryption configuration ("" for none):
	// a restore adds the keys the snapshot needs to it.
	KeysFile string
	Out      io.Writer
	Now      func() time.Time
	// Interval and StopTimeout pace the wait for the containers to stop.
	Interval, StopTimeout time.Duration
}

// Result is what a restore did.
type Result struct {
	DataDir string `json:"dataDir"`
	// OldDataDir keeps the data the restore replaced; empty when there was none.
	OldDataDir string `json:"oldDataDir,omitempty"`
	// Revision is the snapshot's revision per its sidecar (0 without one).
	Revision int64 `json:"revision,omitempty"`
	// OtherMembers are the members that must reset and join again after
	// --force-new-cluster.
	OtherMembers []string `json:"otherMembers,omitempty"`
	// ClusterID is the restored member's new cluster ID: every restore
	// makes a new one, so that members of the old cluster cannot adopt it.
	ClusterID string `json:"clusterID,omitempty"`
}

// stopped are the static pods a restore stops: etcd, and the API server,
// which would otherwise serve (and cache) the state being replaced.
var stopped = []string{staticpods.Etcd, staticpods.KubeAPIServer}

// RefusedError says a restore would split an etcd cluster; nothing changed.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Restore replaces this node's etcd data with a snapshot. Everything that
// can refuse — the file's hashes, the member count — is checked before
// anything stops. The etcd and API server static pods are stopped by
// moving their manifests away; the snapshot is restored into a new dir
// that is then swapped in, the old data staying next to it; the manifests
// go back and the restore waits for both to be healthy.
func Restore(ctx context.Context, o RestoreOptions) (*Result, error) {
	if msg, err := Recover(o.ParkDir, o.Out); err != nil {
		return nil, err
	} else if msg != "" {
		fmt.Fprintln(o.Out, "[restore] "+msg)
	}
	step := stepper(o.Out, o.now)
	if l := o.Local; l.Name == "" || l.PeerURL == "" || l.DataDir == "" {
		return nil, fmt.Errorf("the etcd manifest lacks --name, --initial-advertise-peer-urls or --data-dir "+
			"(name %q, peer URL %q, data dir %q): restore needs all three", l.Name, l.PeerURL, l.DataDir)
	}
	check, err := Verify(o.File)
	if err != nil {
		return nil, err
	}
	if check.EtcdChecksum != "ok" {
		return nil, fmt.Errorf("snapshot %s has no etcd checksum at its end, so its integrity cannot be checked: "+
			"restore only files saved by `kubestrap etcd snapshot save` or `etcdctl snapshot save`", o.File)
	}
	step("verified %s (sha256 %s)", o.File, check.SHA256)
	res := &Result{DataDir: o.Local.DataDir}
	// The sidecar is optional (etcdctl's snapshots have none): nil then.
	info, _ := ReadInfo(o.File)
	if info != nil {
		res.Revision = info.Revision
	}
	if res.OtherMembers, err = checkMembers(ctx, o); err != nil {
		return nil, err
	}
	if err := checkNoLivePeers(ctx, o); err != nil {
		return nil, err
	}
	oldID, err := checkClusterID(ctx, o, info)
	if err != nil {
		return nil, err
	}
	if info != nil {
		msg, err := ensureKeys(o.KeysFile, o.File, info.EncryptionKeys)
		if err != nil {
			return nil, err
		}
		if msg != "" {
			step("%s", msg)
		}
	}
	parked, err := stop(ctx, o)
	if err != nil {
		return nil, err
	}
	step("stopped %s (manifests in %s)", strings.Join(stopped, " and "), parked.Dir)
	if res.OldDataDir, err = swapDataDir(o, parked); err != nil {
		return nil, errors.Join(err, restart(parked))
	}
	step("restored the snapshot into %s (the replaced data is in %s)", res.DataDir, or(res.OldDataDir, "nothing: there was none"))
	res.ClusterID = recordLineage(o, oldID)
	if err := restart(parked); err != nil {
		return res, err
	}
	if err := o.WaitHealthy(ctx); err != nil {
		return res, fmt.Errorf("after the restore: %w; the replaced data is in %s", err, or(res.OldDataDir, "(none)"))
	}
	step("etcd and the API server are healthy")
	return res, nil
}

func restart(p *staticpods.Parked) error {
	if err := p.Unpark(); err != nil {
		return fmt.Errorf("restart etcd and the API server: %w", err)
	}
	return nil
}

// checkMembers refuses a restore that would split a cluster: restoring one
// member of several makes a second cluster next to the old one. With
// ForceNewCluster it returns the other members, which must reset and join
// again. When etcd does not answer, the members cannot be known, and only
// ForceNewCluster proceeds.
func checkMembers(ctx context.Context, o RestoreOptions) ([]string, error) {
	members, err := o.Members(ctx)
	if err != nil {
		if o.ForceNewCluster {
			fmt.Fprintf(o.Out, "[restore] etcd does not answer (%v): restoring this member as a new single-member cluster\n", err)
			return nil, nil
		}
		return nil, &RefusedError{Reason: fmt.Sprintf("etcd does not answer (%v), so kubestrap cannot tell whether other "+
			"control-plane nodes run members of this cluster; nothing was changed. On a single control-plane cluster pass "+
			"--force-new-cluster (the restored etcd is a single member either way); with more control planes, see below", err) +
			"\n" + forceNewClusterHelp}
	}
	var others []string
	for _, m := range members {
		if m.Name != o.Local.Name && !slices.Contains(m.PeerURLs, o.Local.PeerURL) {
			others = append(others, m.String())
		}
	}
	if len(others) == 0 {
		return nil, nil
	}
	if !o.ForceNewCluster {
		return nil, &RefusedError{Reason: fmt.Sprintf("the etcd cluster has %d members (other than this one: %s): restoring "+
			"one member would split it; nothing was changed.\n%s", len(members), strings.Join(others, ", "), forceNewClusterHelp)}
	}
	fmt.Fprintf(o.Out, "[restore] --force-new-cluster: this member becomes a new single-member cluster; "+
		"afterwards run `kubestrap reset` on each other control-plane node (%s) and join it again\n", strings.Join(others, ", "))
	return others, nil
}

// checkNoLivePeers refuses any restore, forced or not, while an etcd of
// another control plane answers: it still holds the old cluster, and with
// the restored member's old IDs it would send heartbeats that crash it
// (raft's "tocommit out of range"), or serve the old data beside the new.
func checkNoLivePeers(ctx context.Context, o RestoreOptions) error {
	if o.LivePeers == nil {
		return nil
	}
	live, err := o.LivePeers(ctx)
	if err != nil {
		fmt.Fprintf(o.Out, "[restore] warning: could not look for other control planes: %v\n", err)
	}
	if len(live) == 0 {
		return nil
	}
	return &RefusedError{Reason: fmt.Sprintf("etcd still answers on other control-plane nodes: %s; nothing was changed. "+
		"A restore here would make a second cluster beside theirs. First stop etcd on each of them (`kubestrap reset`, "+
		"or move /etc/kubernetes/manifests/etcd.yaml out of the manifest dir), then run this restore again "+
		"with --force-new-cluster, and join them again afterwards", strings.Join(live, ", "))}
}

// checkClusterID refuses a snapshot of another cluster unless forced, and
// returns this node's cluster ID for the lineage. A snapshot without a
// recorded cluster ID (etcdctl's) or a node whose ID cannot be read is
// let through with a note.
func checkClusterID(ctx context.Context, o RestoreOptions, info *Info) (string, error) {
	cur := ""
	if o.ClusterID != nil {
		cur, _ = o.ClusterID(ctx)
	}
	if info == nil || info.ClusterID == "" || cur == "" {
		fmt.Fprintf(o.Out, "[restore] note: cannot compare the snapshot's etcd cluster ID (%q) with this node's (%q)\n",
			or(clusterIDOf(info), "unknown"), or(cur, "unknown"))
		return cur, nil
	}
	known := []string{cur}
	if o.KnownClusterIDs != nil {
		known = append(known, o.KnownClusterIDs()...)
	}
	if slices.Contains(known, info.ClusterID) || o.ForceOtherCluster {
		return cur, nil
	}
	return "", &RefusedError{Reason: fmt.Sprintf("snapshot %s is of etcd cluster %s, but this node's etcd is cluster %s "+
		"(and was none of these before: %s); nothing was changed. Restore a snapshot of this cluster "+
		"(`kubestrap etcd snapshot list`), or pass --force-other-cluster if replacing this cluster's data with "+
		"another cluster's is what you want", o.File, info.ClusterID, cur, strings.Join(known, ", "))}
}

func clusterIDOf(info *Info) string {
	if info == nil {
		return ""
	}
	return info.ClusterID
}

// recordLineage reads the restored data dir's new cluster ID and notes it
// with the old one, so that snapshots of either restore here later.
func recordLineage(o RestoreOptions, oldID string) string {
	newID, err := DataDirClusterID(o.Root.Path(o.Local.DataDir))
	if err != nil {
		fmt.Fprintf(o.Out, "[restore] warning: the restored data's cluster ID: %v\n", err)
	}
	if o.RecordClusterIDs != nil {
		if err := o.RecordClusterIDs(oldID, newID); err != nil {
			fmt.Fprintf(o.Out, "[restore] warning: record the cluster IDs: %v\n", err)
		}
	}
	return newID
}

const forceNewClusterHelp = "Disaster recovery: `kubestrap etcd snapshot restore FILE --force-new-cluster` restores this node " +
	"as a new single-member cluster; then run `kubestrap reset` on every other control-plane node and join it again " +
	"with `kubestrap join ... --control-plane` (until then their API servers serve the old data)."

// stop parks the manifests and waits for the containers; a timeout puts
// the manifests back, leaving the node as it was.
func stop(ctx context.Context, o RestoreOptions) (*staticpods.Parked, error) {
	parked, err := staticpods.Park(o.ManifestDir, o.ParkDir, staticpods.Journal{Operation: restoreOp, Started: o.now(),
		Data: map[string]string{"file": o.File}}, stopped...)
	if err != nil {
		return nil, err
	}
	s := poll.Spec{Interval: o.Interval, Timeout: o.StopTimeout, Out: o.Out, Prefix: "restore"}
	if err := staticpods.WaitStopped(ctx, o.Runtime, s, stopped...); err != nil {
		return nil, errors.Join(fmt.Errorf("%w; nothing was restored", err), restart(parked))
	}
	return parked, nil
}

// swapDataDir restores into a new dir beside the data dir, then renames
// the data dir to DATADIR.before-restore-TIME and the new one into its
// place: a failed restore leaves the old data where it was. Each step is
// in the park's journal first, so that Recover can finish or undo it.
func swapDataDir(o RestoreOptions, p *staticpods.Parked) (old string, err error) {
	dataDir := o.Root.Path(o.Local.DataDir)
	stamp := o.now().UTC().Format("20060102T150405Z")
	fresh := dataDir + ".restore-" + stamp
	if _, err := os.Stat(dataDir); err == nil {
		old = dataDir + ".before-restore-" + stamp
	}
	note := func(step string) error {
		if p == nil {
			return nil
		}
		return p.Note(step, map[string]string{"dataDir": dataDir, "fresh": fresh, "old": old})
	}
	if err := note("restoring"); err != nil {
		return "", err
	}
	restore := o.RestoreDataDir
	if restore == nil {
		restore = etcdutl.NewV3(zap.NewNop()).Restore
	}
	if err := restore(restoreConfig(o, fresh, restoreToken(o.now()))); err != nil {
		_ = os.RemoveAll(fresh)
		return "", fmt.Errorf("restore %s into %s: %w", o.File, fresh, err)
	}
	// etcd refuses to start on a data dir others may read.
	if err := os.Chmod(fresh, dirMode); err != nil {
		return "", err
	}
	if err := note("swapping"); err != nil {
		return "", err
	}
	if old != "" {
		if err := os.Rename(dataDir, old); err != nil {
			return "", err
		}
	}
	if err := os.Rename(fresh, dataDir); err != nil {
		if old != "" {
			err = errors.Join(err, os.Rename(old, dataDir))
		}
		return "", err
	}
	return old, note("swapped")
}

// bumpRevision is how far the restored store's revision is raised (and
// marked compacted), as the Kubernetes docs advise for etcdutl restores:
// clients that watched the newer, lost revisions must not see revisions
// go back, which would leave their caches silently stale.
const bumpRevision = 1_000_000_000

// restoreConfig gives every restore a fresh cluster token: member and
// cluster IDs derive from it, so the restored member is a new cluster that
// peers of the old one cannot adopt under the old IDs.
func restoreConfig(o RestoreOptions, dir, token string) etcdutl.RestoreConfig {
	return etcdutl.RestoreConfig{SnapshotPath: o.File, Name: o.Local.Name, OutputDataDir: dir,
		PeerURLs: []string{o.Local.PeerURL}, InitialCluster: selfInitialCluster(o.Local),
		InitialClusterToken: token, RevisionBump: bumpRevision, MarkCompacted: true}
}

func restoreToken(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "kubestrap-restore-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// selfInitialCluster is this member's entries of the manifest's
// --initial-cluster: a restored member starts a cluster of its own, and
// listing members that are not restored with it would make it wait for
// them forever.
func selfInitialCluster(le *staticpods.LocalEtcd) string {
	var self []string
	for _, e := range strings.Split(le.InitialCluster, ",") {
		if name, _, ok := strings.Cut(e, "="); ok && name == le.Name {
			self = append(self, e)
		}
	}
	if len(self) == 0 {
		return le.Name + "=" + le.PeerURL
	}
	return strings.Join(self, ",")
}

func (o RestoreOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// stepper prints one "[restore] ... (duration)" line per step, the way
// the phase runner does.
func stepper(out io.Writer, now func() time.Time) func(format string, args ...any) {
	last := now()
	return func(format string, args ...any) {
		t := now()
		fmt.Fprintf(out, "[restore] %s (%s)\n", fmt.Sprintf(format, args...), t.Sub(last).Round(10*time.Millisecond))
		last = t
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
