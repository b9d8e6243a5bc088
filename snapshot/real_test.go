package snapshot

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/kubestrap/kubestrap/staticpods"
)

// freeURL is an http URL on a loopback port that was free a moment ago.
func freeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

// startEtcd runs a one-member etcd on dataDir in the test process.
// The returned stop may be called more than once.
func startEtcd(t *testing.T, name, dataDir string, peer url.URL) (stop func(), c *clientv3.Client) {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = name, dataDir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	client := freeURL(t)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = name + "=" + peer.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop = sync.OnceFunc(e.Close)
	t.Cleanup(stop)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		t.Fatal("etcd did not start")
	}
	c, err = clientv3.New(clientv3.Config{Endpoints: []string{client.String()}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return stop, c
}

// TestSaveInspectRestoreWithRealEtcd runs the whole path against etcd
// itself: save through the Maintenance API, etcdutl's status, etcdutl's
// restore into a swapped data dir, and a member started on it that serves
// the saved keys and a revision above any the old cluster handed out.
func TestSaveInspectRestoreWithRealEtcd(t *testing.T) {
	root := t.TempDir()
	peer := freeURL(t)
	stop, c := startEtcd(t, "cp1", filepath.Join(root, "etcd"), peer)
	endpoint := c.Endpoints()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 10 {
		if _, err := c.Put(ctx, fmt.Sprintf("/registry/k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(root, "snaps", DefaultName("cp1", t0))
	info, err := Save(ctx, c, SaveOptions{Path: file, Endpoint: endpoint, Member: "cp1", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Inspect(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalKeys != 10 || st.Revision < info.Revision || info.Revision < 11 || st.EtcdChecksum != "ok" || info.ClusterID == "" {
		t.Fatalf("status %+v, sidecar %+v", st, info)
	}
	if _, err := c.Put(ctx, "/registry/after-snapshot", "lost"); err != nil {
		t.Fatal(err)
	}
	stop()

	dataDir := filepath.Join(root, "etcd")
	if id, err := DataDirClusterID(dataDir); err != nil || id != info.ClusterID {
		t.Fatalf("cluster ID from the stopped member's WAL: %q, %v; want %s", id, err, info.ClusterID)
	}
	old, err := swapDataDir(RestoreOptions{File: file, Root: "/", Now: func() time.Time { return t0 },
		Local: &staticpods.LocalEtcd{Name: "cp1", PeerURL: peer.String(), DataDir: dataDir, InitialCluster: "cp1=" + peer.String()}}, nil)
	if err != nil || old != dataDir+".before-restore-20260301T120000Z" {
		t.Fatalf("swap: %q, %v", old, err)
	}
	newID, err := DataDirClusterID(dataDir)
	if err != nil || newID == info.ClusterID {
		t.Fatalf("restored cluster ID %q (%v): want a new one, not %s", newID, err, info.ClusterID)
	}
	_, c2 := startEtcd(t, "cp1", dataDir, peer)
	got, err := c2.Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if id := strconv.FormatUint(got.Header.ClusterId, 16); id != newID {
		t.Errorf("the restored member serves cluster %s, its WAL says %s", id, newID)
	}
	if got.Count != 10 || got.Header.Revision < bumpRevision {
		t.Errorf("restored: %d keys at revision %d, want 10 above %d", got.Count, got.Header.Revision, bumpRevision)
	}
}
