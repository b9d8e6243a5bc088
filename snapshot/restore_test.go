package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/staticpods"
)

// testNode is a control-plane node's files for a restore: the manifests, the
// data dir and a good snapshot.
type testNode struct {
	root, manifests, dataDir, file string
	opts                           RestoreOptions
	restored                       []etcdutl.RestoreConfig
	waited                         bool
	listed                         atomic.Int32
}

// runtime reports an etcd container running on the first list after
// the stop, and exited from then on.
type runtime struct{ n *testNode }

func (r runtime) ListContainers(context.Context, *runtimeapi.ListContainersRequest, ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	state := runtimeapi.ContainerState_CONTAINER_EXITED
	if r.n.listed.Add(1) == 1 {
		state = runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	return &runtimeapi.ListContainersResponse{Containers: []*runtimeapi.Container{
		{Id: "abc", State: state, Labels: map[string]string{"io.kubernetes.container.name": "etcd"}},
		{Id: "def", State: runtimeapi.ContainerState_CONTAINER_RUNNING, Labels: map[string]string{"io.kubernetes.container.name": "kube-scheduler"}},
	}}, nil
}

func member(id uint64, name, ip string) etcd.Member {
	return etcd.Member{ID: id, Name: name, PeerURLs: []string{"https://" + ip + ":2380"},
		ClientURLs: []string{"https://" + ip + ":2379"}, Healthy: true}
}

func newNode(t *testing.T, members ...etcd.Member) *testNode {
	t.Helper()
	n := &testNode{root: t.TempDir()}
	kube := filepath.Join(n.root, "etc/kubernetes")
	n.manifests = filepath.Join(kube, "manifests")
	n.dataDir = filepath.Join(n.root, "var/lib/etcd")
	for _, d := range []string{n.manifests, filepath.Join(n.dataDir, "member")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"etcd", "kube-apiserver", "kube-scheduler"} {
		if err := os.WriteFile(staticpods.ManifestPath(n.manifests, c), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n.file = saveAt(t, filepath.Join(n.root, "snaps"), "cp1", t0, 5)
	if len(members) == 0 {
		members = []etcd.Member{member(1, "cp1", "10.0.0.1")}
	}
	n.opts = RestoreOptions{File: n.file, Root: "/",
		Local: &staticpods.LocalEtcd{Name: "cp1", PeerURL: "https://10.0.0.1:2380", DataDir: n.dataDir,
			InitialCluster: "cp0=https://10.0.0.9:2380,cp1=https://10.0.0.1:2380"},
		ManifestDir: n.manifests, ParkDir: filepath.Join(kube, staticpods.ParkDirName),
		Members:     func(context.Context) ([]etcd.Member, error) { return members, nil },
		Runtime:     runtime{n},
		WaitHealthy: func(context.Context) error { n.waited = true; return nil },
		RestoreDataDir: func(c etcdutl.RestoreConfig) error {
			n.restored = append(n.restored, c)
			return os.MkdirAll(filepath.Join(c.OutputDataDir, "member", "snap"), 0o755)
		},
		Out: &bytes.Buffer{}, Now: func() time.Time { return t0 }, Interval: time.Millisecond, StopTimeout: 5 * time.Second}
	return n
}

// manifestsInPlace fails the test unless every manifest is where the
// kubelet reads it and no parked copy is left.
func (n *testNode) manifestsInPlace(t *testing.T) {
	t.Helper()
	for _, c := range []string{"etcd", "kube-apiserver", "kube-scheduler"} {
		if _, err := os.Stat(staticpods.ManifestPath(n.manifests, c)); err != nil {
			t.Errorf("manifest %s: %v", c, err)
		}
	}
	if _, err := os.Stat(n.opts.ParkDir); !os.IsNotExist(err) {
		t.Errorf("park left: %v", err)
	}
}

func TestRestoreRefusesCorruptedFileBeforeStoppingAnything(t *testing.T) {
	n := newNode(t)
	want, _ := ReadInfo(n.file)
	corrupt(t, n.file)
	n.opts.Members = func(context.Context) ([]etcd.Member, error) { t.Error("members asked"); return nil, nil }
	_, err := Restore(context.Background(), n.opts)
	var he *HashError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want a HashError", err)
	}
	if !strings.Contains(err.Error(), want.SHA256) || !strings.Contains(err.Error(), he.Actual) {
		t.Errorf("error does not name expected %s and actual: %v", want.SHA256, err)
	}
	n.manifestsInPlace(t)
	if n.listed.Load() != 0 || len(n.restored) != 0 || n.waited {
		t.Errorf("acted on a corrupted file: listed %d, restored %v, waited %v", n.listed.Load(), n.restored, n.waited)
	}
}

func TestRestoreRefusesMultiMemberWithoutForce(t *testing.T) {
	n := newNode(t, member(1, "cp1", "10.0.0.1"), member(2, "cp2", "10.0.0.2"), member(3, "cp3", "10.0.0.3"))
	_, err := Restore(context.Background(), n.opts)
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "3 members") || !strings.Contains(err.Error(), "--force-new-cluster") ||
		!strings.Contains(err.Error(), "kubestrap reset") || !strings.Contains(err.Error(), "cp2") {
		t.Fatalf("err = %v", err)
	}
	n.manifestsInPlace(t)
	if n.listed.Load() != 0 || len(n.restored) != 0 {
		t.Error("stopped or restored although refused")
	}

	n.opts.ForceNewCluster = true
	res, err := Restore(context.Background(), n.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.OtherMembers) != 2 || !strings.Contains(n.opts.Out.(*bytes.Buffer).String(), "kubestrap reset") {
		t.Errorf("others = %v, output:\n%s", res.OtherMembers, n.opts.Out)
	}
}

func TestRestoreRefusesWhenMembersCannotBeKnown(t *testing.T) {
	n := newNode(t)
	n.opts.Members = func(context.Context) ([]etcd.Member, error) { return nil, errors.New("connection refused") }
	if _, err := Restore(context.Background(), n.opts); err == nil || !strings.Contains(err.Error(), "--force-new-cluster") {
		t.Fatalf("err = %v", err)
	}
	n.manifestsInPlace(t)
	n.opts.ForceNewCluster = true
	if _, err := Restore(context.Background(), n.opts); err != nil {
		t.Fatalf("with --force-new-cluster: %v", err)
	}
}

func TestRestoreSwapsDataDirAndRestarts(t *testing.T) {
	n := newNode(t)
	res, err := Restore(context.Background(), n.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, n.opts.Out)
	}
	old := n.dataDir + ".before-restore-20260301T120000Z"
	if res.OldDataDir != old || res.Revision != 4242 {
		t.Errorf("result = %+v", res)
	}
	if _, err := os.Stat(filepath.Join(old, "member")); err != nil {
		t.Errorf("old data: %v", err)
	}
	if st, err := os.Stat(filepath.Join(n.dataDir, "member", "snap")); err != nil || !st.IsDir() {
		t.Errorf("restored data: %v", err)
	}
	if st, _ := os.Stat(n.dataDir); st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v", st.Mode().Perm())
	}
	n.manifestsInPlace(t)
	if !n.waited || n.listed.Load() < 2 {
		t.Errorf("waited %v, listed %d times", n.waited, n.listed.Load())
	}
	c := n.restored[0]
	if c.Name != "cp1" || c.InitialCluster != "cp1=https://10.0.0.1:2380" || c.PeerURLs[0] != "https://10.0.0.1:2380" ||
		c.SnapshotPath != n.file || !c.MarkCompacted || c.RevisionBump == 0 {
		t.Errorf("restore config = %+v", c)
	}
	// A fresh token each time: the restored member's IDs are new, so peers
	// of the old cluster cannot adopt it.
	n.opts.Now = func() time.Time { return t0.Add(time.Hour) }
	if _, err := Restore(context.Background(), n.opts); err != nil {
		t.Fatal(err)
	}
	if tok := n.restored[0].InitialClusterToken; tok == "etcd-cluster" || !strings.HasPrefix(tok, "kubestrap-restore-") ||
		tok == n.restored[1].InitialClusterToken {
		t.Errorf("cluster tokens %q and %q: want fresh ones", tok, n.restored[1].InitialClusterToken)
	}
}

func TestRestoreFailureKeepsOldDataAndRestarts(t *testing.T) {
	n := newNode(t)
	n.opts.RestoreDataDir = func(c etcdutl.RestoreConfig) error {
		_ = os.MkdirAll(c.OutputDataDir, 0o700)
		return errors.New("disk full")
	}
	if _, err := Restore(context.Background(), n.opts); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	n.manifestsInPlace(t)
	if _, err := os.Stat(filepath.Join(n.dataDir, "member")); err != nil {
		t.Errorf("old data moved: %v", err)
	}
	if left, _ := filepath.Glob(n.dataDir + ".*"); len(left) != 0 {
		t.Errorf("left %v", left)
	}
}

// The init node's --initial-cluster names only itself; with its etcd down
// the members cannot be listed. The control-plane Nodes still name the
// peers, and while one answers no restore runs, forced or not.
func TestRestoreRefusesWhileAPeerAnswers(t *testing.T) {
	n := newNode(t)
	n.opts.Members = func(context.Context) ([]etcd.Member, error) { return nil, errors.New("connection refused") }
	n.opts.ForceNewCluster = true
	n.opts.LivePeers = func(context.Context) ([]string, error) {
		return []string{"cp2 (https://10.0.0.2:2379)", "cp3 (https://10.0.0.3:2379)"}, nil
	}
	_, err := Restore(context.Background(), n.opts)
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "cp2 (https://10.0.0.2:2379), cp3") {
		t.Fatalf("err = %v", err)
	}
	n.manifestsInPlace(t)
	if n.listed.Load() != 0 || len(n.restored) != 0 {
		t.Error("stopped or restored although a peer answers")
	}
}

func TestCandidatePeersFindTheInitNodesPeersFromNodes(t *testing.T) {
	le := &staticpods.LocalEtcd{Name: "cp1", PeerURL: "https://10.0.0.1:2380", InitialCluster: "cp1=https://10.0.0.1:2380"}
	node := func(name, ip string, cp bool) corev1.Node {
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}}}
		if cp {
			n.Labels[controlPlaneLabel] = ""
		}
		return n
	}
	nodes := []corev1.Node{node("cp1", "10.0.0.1", true), node("cp2", "10.0.0.2", true), node("w1", "10.0.0.7", false),
		node("cp3", "10.0.0.3", true)}
	got := candidatePeers(le, []etcd.Member{member(2, "cp2", "10.0.0.2")}, nodes)
	want := []Peer{{"cp2", "https://10.0.0.2:2379"}, {"cp3", "https://10.0.0.3:2379"}}
	if !slices.Equal(got, want) {
		t.Errorf("candidates = %v, want %v", got, want)
	}
	live := livePeers(context.Background(), got, func(_ context.Context, u string) error {
		if strings.Contains(u, "10.0.0.3") {
			return nil
		}
		return errors.New("down")
	})
	if !slices.Equal(live, []string{"cp3 (https://10.0.0.3:2379)"}) {
		t.Errorf("live = %v", live)
	}
}

func TestRestoreRefusesAnotherClustersSnapshot(t *testing.T) {
	n := newNode(t) // the sidecar says cluster c1
	n.opts.ClusterID = func(context.Context) (string, error) { return "abc", nil }
	_, err := Restore(context.Background(), n.opts)
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "cluster c1") || !strings.Contains(err.Error(), "abc") ||
		!strings.Contains(err.Error(), "--force-other-cluster") {
		t.Fatalf("err = %v", err)
	}
	n.manifestsInPlace(t)
	if len(n.restored) != 0 {
		t.Fatal("restored another cluster's snapshot")
	}
	var recorded []string
	n.opts.KnownClusterIDs = func() []string { return []string{"c1"} } // this node was c1 before a restore
	n.opts.RecordClusterIDs = func(ids ...string) error { recorded = append(recorded, ids...); return nil }
	if _, err := Restore(context.Background(), n.opts); err != nil {
		t.Fatalf("a snapshot of this node's earlier cluster: %v", err)
	}
	if len(recorded) == 0 || recorded[0] != "abc" {
		t.Errorf("lineage recorded %v, want the replaced cluster abc first", recorded)
	}
	n.opts.KnownClusterIDs = nil
	n.opts.ForceOtherCluster = true
	n.opts.Now = func() time.Time { return t0.Add(time.Hour) }
	if _, err := Restore(context.Background(), n.opts); err != nil {
		t.Fatalf("--force-other-cluster: %v", err)
	}
}

// killedRestore runs a restore that dies (as with kill -9) inside its
// etcdutl step, after writing part of the new data dir: nothing after
// that point runs.
func killedRestore(t *testing.T, n *testNode) {
	t.Helper()
	n.opts.RestoreDataDir = func(c etcdutl.RestoreConfig) error {
		_ = os.MkdirAll(filepath.Join(c.OutputDataDir, "member", "wal"), 0o700)
		goruntime.Goexit()
		return nil
	}
	done := make(chan struct{})
	go func() { defer close(done); _, _ = Restore(context.Background(), n.opts) }()
	<-done
	if j, _ := staticpods.ReadJournal(n.opts.ParkDir); j == nil || j.Step != "restoring" {
		t.Fatalf("journal after the kill: %+v", j)
	}
}

func TestRecoverRollsBackARestoreKilledBeforeItsSwap(t *testing.T) {
	n := newNode(t)
	killedRestore(t, n)
	if _, err := os.Stat(staticpods.ManifestPath(n.manifests, "etcd")); err == nil {
		t.Fatal("the kill left etcd's manifest in place: the test does not stop where it should")
	}
	msg, err := Recover(n.opts.ParkDir, io.Discard)
	if err != nil || !strings.Contains(msg, "ROLLED BACK") || !strings.Contains(msg, "restoring") {
		t.Fatalf("Recover = %q, %v", msg, err)
	}
	n.manifestsInPlace(t)
	if _, err := os.Stat(filepath.Join(n.dataDir, "member")); err != nil {
		t.Errorf("data: %v", err)
	}
	if left, _ := filepath.Glob(n.dataDir + ".*"); len(left) != 0 {
		t.Errorf("left %v", left)
	}
	if msg, err := Recover(n.opts.ParkDir, io.Discard); msg != "" || err != nil {
		t.Errorf("second Recover = %q, %v", msg, err)
	}
}

// Killed between its two renames: the data dir is gone, the old data is
// beside it, the new one is complete. Recover puts the old data back.
func TestRecoverPutsTheDataBackWhenKilledMidSwap(t *testing.T) {
	n := newNode(t)
	kube := filepath.Dir(n.manifests)
	old, fresh := n.dataDir+".before-restore-X", n.dataDir+".restore-X"
	p, err := staticpods.Park(n.manifests, n.opts.ParkDir, staticpods.Journal{Operation: restoreOp}, "etcd", "kube-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Note("swapping", map[string]string{"dataDir": n.dataDir, "old": old, "fresh": fresh}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(n.dataDir, old); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(fresh, "member"), 0o700); err != nil {
		t.Fatal(err)
	}
	msg, err := Recover(filepath.Join(kube, staticpods.ParkDirName), io.Discard)
	if err != nil || !strings.Contains(msg, "back in place") {
		t.Fatalf("Recover = %q, %v", msg, err)
	}
	n.manifestsInPlace(t)
	if _, err := os.Stat(filepath.Join(n.dataDir, "member")); err != nil {
		t.Errorf("data not back: %v", err)
	}
	for _, p := range []string{old, fresh} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", p, err)
		}
	}
}

func TestRecoverFinishesARestoreKilledAfterItsSwap(t *testing.T) {
	n := newNode(t)
	p, err := staticpods.Park(n.manifests, n.opts.ParkDir, staticpods.Journal{Operation: restoreOp}, "etcd", "kube-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	old := n.dataDir + ".before-restore-X"
	if err := p.Note("swapped", map[string]string{"dataDir": n.dataDir, "old": old, "file": n.file}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	msg, err := Recover(n.opts.ParkDir, io.Discard)
	if err != nil || !strings.Contains(msg, "FINISHED") {
		t.Fatalf("Recover = %q, %v", msg, err)
	}
	n.manifestsInPlace(t)
	if _, err := os.Stat(old); err != nil {
		t.Errorf("the replaced data must stay: %v", err)
	}
}

// The next restore recovers first and says so.
func TestRestoreRecoversAKilledOneFirst(t *testing.T) {
	n := newNode(t)
	killedRestore(t, n)
	n.opts.RestoreDataDir = newNode(t).opts.RestoreDataDir
	out := &bytes.Buffer{}
	n.opts.Out = out
	n.opts.Now = func() time.Time { return t0.Add(time.Hour) }
	if _, err := Restore(context.Background(), n.opts); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "ROLLED BACK") {
		t.Errorf("output does not say what happened to the killed restore:\n%s", out)
	}
	n.manifestsInPlace(t)
}
