package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubestrap/kubestrap/encryption"
)

// A snapshot taken before the node's keys changed (a rotation, or a reset
// and a new init) restores with the keys saved beside it: they are added
// to the node's file as decrypt-only keys; the node's key still encrypts.
func TestSnapshotKeysFollowTheSnapshot(t *testing.T) {
	dir := t.TempDir()
	conf, snap := filepath.Join(dir, "encryption-config.yaml"), filepath.Join(dir, "etcd-cp1.db")
	now := time.Date(2026, 12, 3, 21, 0, 0, 0, time.UTC)
	if _, err := encryption.Ensure(conf, encryption.AESCBC, now); err != nil {
		t.Fatal(err)
	}
	names, err := saveKeys(conf, snap)
	if err != nil || len(names) != 1 || names[0] != "aescbc/key-20261203T210000Z" {
		t.Fatalf("saved keys %v, %v", names, err)
	}
	if st, err := os.Stat(KeysPath(snap)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keys copy: %v %v", st, err)
	}
	if msg, err := ensureKeys(conf, snap, names); err != nil || msg != "" {
		t.Fatalf("same keys: %q, %v", msg, err)
	}
	// The node is made anew: another key.
	if err := os.Remove(conf); err != nil {
		t.Fatal(err)
	}
	if _, err := encryption.Ensure(conf, encryption.AESCBC, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	msg, err := ensureKeys(conf, snap, names)
	if err != nil || !strings.Contains(msg, "added the snapshot's encryption keys") {
		t.Fatalf("new node: %q, %v", msg, err)
	}
	keys, err := encryption.Read(conf)
	if err != nil || len(keys) != 2 || keys[0].Name != "key-20261203T220000Z" || keys[1].Name != "key-20261203T210000Z" {
		t.Fatalf("keys after the merge: %v, %v", keys, err)
	}
	b, _ := os.ReadFile(conf)
	if strings.Index(string(b), "identity: {}") < strings.Index(string(b), "key-20261203T210000Z") {
		t.Errorf("identity is no longer last:\n%s", b)
	}
	// Without the copy a missing key is refused, and nothing changes.
	if err := os.Remove(KeysPath(snap)); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureKeys(conf, snap, []string{"aescbc/key-gone"}); err == nil || !strings.Contains(err.Error(), "key-gone") {
		t.Errorf("missing key without a copy: %v", err)
	}
	if after, _ := os.ReadFile(conf); string(after) != string(b) {
		t.Error("a refused restore changed the keys")
	}
	if _, err := ensureKeys("", snap, names); err == nil {
		t.Error("encrypted snapshot onto an API server without encryption was not refused")
	}
}
