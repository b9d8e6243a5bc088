package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kubestrap/kubestrap/golden"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeSource streams data as etcd's Maintenance.Snapshot does.
type fakeSource struct {
	data []byte
	err  error // returned by the stream after the data
}

func (f fakeSource) SnapshotWithVersion(context.Context) (*clientv3.SnapshotResponse, error) {
	var r io.Reader = bytes.NewReader(f.data)
	if f.err != nil {
		r = io.MultiReader(r, iotest.ErrReader(f.err))
	}
	return &clientv3.SnapshotResponse{Snapshot: io.NopCloser(r), Version: "3.6.0"}, nil
}

func (f fakeSource) Status(context.Context, string) (*clientv3.StatusResponse, error) {
	return &clientv3.StatusResponse{Header: &pb.ResponseHeader{ClusterId: 0xc1, Revision: 4242}}, nil
}

// dbBytes is a snapshot as etcd sends it: a db of whole 512-byte sectors
// followed by its sha256.
func dbBytes(seed byte) []byte {
	db := bytes.Repeat([]byte{seed, 1, 2, 3}, 1024)
	sum := sha256.Sum256(db)
	return append(db, sum[:]...)
}

func saveAt(t *testing.T, dir string, node string, at time.Time, seed byte) string {
	t.Helper()
	path := filepath.Join(dir, DefaultName(node, at))
	if _, err := Save(context.Background(), fakeSource{data: dbBytes(seed)}, SaveOptions{Path: path, Member: node,
		KubernetesVersion: "v1.35.4", Now: at}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSaveWritesFileAndSidecarWithItsHash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	path := saveAt(t, dir, "cp1", t0, 7)
	if filepath.Base(path) != "etcd-cp1-20260301T120000Z.db" {
		t.Errorf("name = %s", filepath.Base(path))
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(data, dbBytes(7)) {
		t.Fatalf("file content differs from the stream (%v)", err)
	}
	sum := sha256.Sum256(data)
	var side Info
	b, err := os.ReadFile(path + ".json")
	if err != nil || json.Unmarshal(b, &side) != nil {
		t.Fatalf("sidecar: %s, %v", b, err)
	}
	want := Info{File: filepath.Base(path), SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Time: t0,
		ClusterID: "c1", Member: "cp1", Revision: 4242, EtcdVersion: "3.6.0", KubernetesVersion: "v1.35.4"}
	if !reflect.DeepEqual(side, want) {
		t.Errorf("sidecar = %+v\nwant      %+v", side, want)
	}
	for _, p := range []string{path, path + ".json"} {
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode().Perm())
	}
}

func TestSaveInterruptedLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	_, err := Save(context.Background(), fakeSource{data: dbBytes(1), err: errors.New("connection reset")},
		SaveOptions{Path: path, Now: t0})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestVerifyNamesExpectedAndActual(t *testing.T) {
	dir := t.TempDir()
	path := saveAt(t, dir, "cp1", t0, 3)
	if c, err := Verify(path); err != nil || c.EtcdChecksum != "ok" || c.SHA256 != c.ExpectedSHA256 {
		t.Fatalf("good file: %+v, %v", c, err)
	}
	info, _ := ReadInfo(path)
	corrupt(t, path)
	_, err := Verify(path)
	var he *HashError
	if !errors.As(err, &he) || he.Expected != info.SHA256 || he.Actual == info.SHA256 ||
		!strings.Contains(err.Error(), info.SHA256) || !strings.Contains(err.Error(), he.Actual) {
		t.Fatalf("err = %v", err)
	}
	// Without a sidecar, etcd's own checksum still catches it.
	if err := os.Remove(path + ".json"); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(path); !errors.As(err, &he) || !strings.Contains(he.Source, "etcd's checksum") {
		t.Fatalf("without sidecar: %v", err)
	}
}

func corrupt(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[100] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPruneKeepsNewestN(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 5 {
		// Saved out of order: the sidecar's time decides, not the name or mtime.
		paths = append(paths, saveAt(t, dir, "cp1", t0.Add(time.Duration((i*3)%5)*time.Hour), byte(i)))
	}
	mine := filepath.Join(dir, "before-upgrade.db")
	if _, err := Save(context.Background(), fakeSource{data: dbBytes(9)}, SaveOptions{Path: mine, Now: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	removed, err := Prune(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Hours 0,3,1,4,2: the newest two are hour 4 (paths[3]) and hour 3 (paths[1]).
	if want := []string{paths[4], paths[2], paths[0]}; strings.Join(removed, ",") != strings.Join(want, ",") {
		t.Errorf("removed %v, want %v", removed, want)
	}
	list, _ := List(dir)
	var left []string
	for _, e := range list {
		left = append(left, filepath.Base(e.Path))
	}
	if want := []string{filepath.Base(paths[3]), filepath.Base(paths[1]), "before-upgrade.db"}; strings.Join(left, ",") != strings.Join(want, ",") {
		t.Errorf("left %v, want %v", left, want)
	}
	for _, p := range removed {
		if _, err := os.Stat(p + ".json"); !os.IsNotExist(err) {
			t.Errorf("sidecar of %s left: %v", p, err)
		}
	}
	if again, _ := Prune(dir, 2); len(again) != 0 {
		t.Errorf("second prune removed %v", again)
	}
}

func TestScheduleUnitsGolden(t *testing.T) {
	s := Schedule{Binary: "/opt/kubestrap/kubestrap", Dir: DefaultDir, Every: 6 * time.Hour, Retain: 5}
	for name, opts := range map[string][]byte{ServiceName: render(t, ServiceUnit(s)), TimerName: render(t, TimerUnit(s))} {
		golden.Check(t, filepath.Join("testdata", name+".golden"), opts)
	}
}

// A stream whose data does not match etcd's checksum at its end (garbled
// on the way, or cut at a sector boundary plus 32 bytes) is refused before
// the rename: nothing takes the final name, so retention cannot count it
// and prune a good snapshot for it.
func TestSaveRefusesSnapshotFailingItsOwnChecksum(t *testing.T) {
	dir := t.TempDir()
	good := saveAt(t, dir, "cp1", t0, 3)
	bad := dbBytes(5)
	bad[100] ^= 0xff
	path := filepath.Join(dir, DefaultName("cp1", t0.Add(time.Hour)))
	_, err := Save(context.Background(), fakeSource{data: bad}, SaveOptions{Path: path, Member: "cp1", Now: t0.Add(time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("err = %v", err)
	}
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		if p := filepath.Join(dir, e.Name()); p != good && p != SidecarPath(good) {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	short := dbBytes(6)[:1000]
	if _, err := Save(context.Background(), fakeSource{data: short}, SaveOptions{Path: path, Now: t0}); err == nil {
		t.Error("kept a snapshot without etcd's checksum")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a refused snapshot took the final name")
	}
}
