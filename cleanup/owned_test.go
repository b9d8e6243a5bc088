package cleanup_test

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
)

// A data dir set to a shared /var/lib/x loses etcd's member dir only; the
// data join and restore set aside stays, reported as such.
func TestCleanEtcdDataDirSharedParent(t *testing.T) {
	for _, dry := range []bool{true, false} {
		root := node.Root(t.TempDir())
		write(t, root, "/var/lib/x/member/snap/db", "/var/lib/x/member/wal/0.wal", "/var/lib/x/.member.tmp-1",
			"/var/lib/x/member.stale-1700000000/snap/db", "/var/lib/x/other-app/state",
			"/var/lib/x.before-restore-20240101T000000Z/member/snap/db")
		r := &cleanup.Report{DryRun: dry}
		gone, err := cleanup.Files{Root: root, DryRun: dry, Report: r}.CleanEtcdDataDir("/var/lib/x")
		if err != nil || gone {
			t.Fatalf("dry %v: gone %v err %v", dry, gone, err)
		}
		s := r.Snapshot()
		if want := []string{"/var/lib/x/.member.tmp-1", "/var/lib/x/member"}; !reflect.DeepEqual(s.Removed, want) {
			t.Errorf("dry %v: removed %q, want %q", dry, s.Removed, want)
		}
		var left []string
		for _, l := range s.Left {
			left = append(left, l.What+": "+l.Why)
		}
		if len(left) != 3 || !strings.HasPrefix(left[0], "/var/lib/x/other-app: not written by kubestrap") ||
			!strings.HasPrefix(left[1], "/var/lib/x/member.stale-1700000000: etcd data") ||
			!strings.HasPrefix(left[2], "/var/lib/x.before-restore-20240101T000000Z: etcd data") {
			t.Errorf("dry %v: left %q", dry, left)
		}
		for _, p := range []string{"/var/lib/x/member.stale-1700000000/snap/db", "/var/lib/x/other-app/state",
			"/var/lib/x.before-restore-20240101T000000Z/member/snap/db"} {
			if !root.Exists(p) {
				t.Errorf("dry %v: %s removed", dry, p)
			}
		}
		if root.Exists("/var/lib/x/member") == !dry {
			t.Errorf("dry %v: member exists %v", dry, !dry)
		}
	}
}

// The certificates dir loses every file the certs package generates, and
// then itself; an admin's file keeps it.
func TestCleanCertificatesDir(t *testing.T) {
	root := node.Root(t.TempDir())
	c := &config.Init{}
	c.NodeRegistration.Name = "cp-1"
	c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	c.Cluster.EncryptionAlgorithm = "ECDSA-P256"
	config.SetInitDefaults(c)
	p := certs.New(c, root.Path("/srv/pki"))
	if _, err := p.EnsureAll(certs.Tree(c)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.EnsureServiceAccountKey(); err != nil {
		t.Fatal(err)
	}
	made := filesBelow(t, root.Path("/srv/pki"))
	if len(made) < 20 {
		t.Fatalf("the certs package made only %q", made)
	}
	write(t, root, "/srv/pki/oidc-ca.crt")
	r := &cleanup.Report{}
	f := cleanup.Files{Root: root, Report: r}
	if gone, err := f.Clean("/srv/pki", cleanup.CertificatesDirOwned()); gone || err != nil {
		t.Fatalf("gone %v err %v", gone, err)
	}
	if left := filesBelow(t, root.Path("/srv/pki")); !reflect.DeepEqual(left, []string{"oidc-ca.crt"}) {
		t.Errorf("left %q of %q, want only the admin's oidc-ca.crt", left, made)
	}
	if err := os.Remove(root.Path("/srv/pki/oidc-ca.crt")); err != nil {
		t.Fatal(err)
	}
	if gone, err := f.Clean("/srv/pki", cleanup.CertificatesDirOwned()); !gone || err != nil || root.Exists("/srv/pki") {
		t.Errorf("empty dir: gone %v err %v", gone, err)
	}
}

// filesBelow lists the files below dir, relative to it.
func filesBelow(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestCheckDataDir(t *testing.T) {
	for _, p := range []string{"var/lib/etcd", "./etcd", "/", "/var", "/var/", "/var/lib", "/var/lib/", "/etc",
		"/etc/kubernetes", "/var/lib/kubelet", "/home", "/home/alice", "/home/alice/", "/root", "/usr", "/usr/local",
		"/opt", "/srv", "/mnt", "/media", "/tmp", "/run", "/boot", "/var/log", "/var/tmp", "/var/lib/../lib"} {
		err := cleanup.CheckDataDir(p)
		if err == nil || !strings.Contains(err.Error(), "use a directory of its own, such as /var/lib/etcd") {
			t.Errorf("%q: %v", p, err)
		}
		if cleanup.SafeToRemove(p) == nil {
			t.Errorf("SafeToRemove(%q) accepts it", p)
		}
	}
	for _, p := range []string{"/var/lib/etcd", "/var/lib/x", "/data/etcd", "/home/alice/etcd", "/srv/etcd", "/etc/kubernetes/pki"} {
		if err := cleanup.CheckDataDir(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
}
