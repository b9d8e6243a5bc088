package certs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// caOnly returns a PKI whose directory holds just the cluster CA, the state
// of a crash right after the first certificate was written.
func caOnly(t *testing.T) (*PKI, []Spec) {
	t.Helper()
	c := testConfig(t, "ECDSA-P256")
	p := New(c, filepath.Join(t.TempDir(), "pki"))
	spec, _ := find(Tree(c), CAName)
	if _, err := p.Ensure(spec, Tree(c)); err != nil {
		t.Fatal(err)
	}
	return p, Tree(c)
}

func fullTree(t *testing.T) (*PKI, []Spec) {
	t.Helper()
	c, p, _ := makeTree(t, "ECDSA-P256")
	return p, Tree(c)
}

// TestPartialPairs simulates what a crash or a careless `rm` leaves of a
// key/certificate pair: a lone key is an interrupted write and is made anew
// unless certificates issued by it exist; a lone certificate is an error.
func TestPartialPairs(t *testing.T) {
	tests := []struct {
		name    string
		tree    func(*testing.T) (*PKI, []Spec)
		spec    string
		remove  string   // extension of the file to delete
		wantErr []string // base names the error must name; none means regenerated
	}{
		{"leaf key without cert", fullTree, "apiserver", ".crt", nil},
		{"etcd leaf key without cert", fullTree, "etcd-peer", ".crt", nil},
		{"CA key without cert, nothing issued", caOnly, CAName, ".crt", nil},
		{"CA key without cert, leaves issued", fullTree, EtcdCAName, ".crt", []string{"etcd/ca.crt", "etcd/server.crt"}},
		{"leaf cert without key", fullTree, "front-proxy-client", ".key", []string{"front-proxy-client.key"}},
		{"CA cert without key", fullTree, CAName, ".key", []string{"ca.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, specs := tt.tree(t)
			spec, _ := find(specs, tt.spec)
			if err := os.Remove(filepath.Join(p.Dir, spec.BaseName+tt.remove)); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, p.Dir)
			res, err := p.Ensure(spec, specs)
			if len(tt.wantErr) > 0 {
				assertNames(t, err, p.Dir, tt.wantErr)
				if snapshot(t, p.Dir) != before {
					t.Error("files changed after a refused run")
				}
				return
			}
			if err != nil || res.Action != Regenerated {
				t.Fatalf("got %q, %v; want %q", res.Action, err, Regenerated)
			}
			assertValidPair(t, p, spec, specs)
		})
	}
}

func assertNames(t *testing.T, err error, dir string, names []string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), filepath.Join(dir, n)) {
			t.Errorf("error does not name %s: %v", n, err)
		}
	}
}

// assertValidPair checks that spec's key and cert match, its cert is signed
// by its CA, the modes are right, and a re-run accepts it as is.
func assertValidPair(t *testing.T, p *PKI, spec Spec, specs []Spec) {
	t.Helper()
	cert, key, err := p.load(spec.BaseName)
	if err != nil || cert == nil || key == nil {
		t.Fatalf("load %s: %v %v %v", spec.Name, cert, key, err)
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		t.Errorf("%s: cert does not match its key", spec.Name)
	}
	if !spec.IsCA() {
		caSpec, _ := find(specs, spec.CA)
		ca, _, _ := p.load(caSpec.BaseName)
		if err := cert.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s: not signed by %s: %v", spec.Name, spec.CA, err)
		}
	}
	checkModes(t, p.KeyPath(spec.BaseName), p.CertPath(spec.BaseName))
	if res, err := p.Ensure(spec, specs); err != nil || res.Action != Reused {
		t.Errorf("re-run: %q, %v", res.Action, err)
	}
}

func TestPartialServiceAccountPair(t *testing.T) {
	tests := []struct {
		name    string
		remove  string
		wantErr string // base name the error must name; empty means regenerated
	}{
		{"sa.key without sa.pub", "sa.pub", ""},
		{"sa.pub without sa.key", "sa.key", "sa.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := caOnly(t)
			if _, err := p.EnsureServiceAccountKey(); err != nil {
				t.Fatal(err)
			}
			keyPath, pubPath := filepath.Join(p.Dir, "sa.key"), filepath.Join(p.Dir, "sa.pub")
			keyBefore, _ := os.ReadFile(keyPath)
			if err := os.Remove(filepath.Join(p.Dir, tt.remove)); err != nil {
				t.Fatal(err)
			}
			res, err := p.EnsureServiceAccountKey()
			if tt.wantErr != "" {
				assertNames(t, err, p.Dir, []string{tt.wantErr})
				if exists(keyPath) {
					t.Error("a new sa.key was made next to an orphaned sa.pub")
				}
				return
			}
			if err != nil || res.Action != Regenerated {
				t.Fatalf("got %q, %v; want %q", res.Action, err, Regenerated)
			}
			keyAfter, _ := os.ReadFile(keyPath)
			pubAfter, _ := os.ReadFile(pubPath)
			if !bytes.Equal(keyBefore, keyAfter) {
				t.Error("sa.key changed: tokens signed with it would be invalidated")
			}
			if err := checkSAPair(keyPath, pubPath, keyAfter, pubAfter); err != nil {
				t.Error(err)
			}
			checkModes(t, keyPath, pubPath)
		})
	}
}

// TestStrayTempFiles checks that temp files left by a crash neither stop a
// run nor survive it, whether the PKI is new or complete.
func TestStrayTempFiles(t *testing.T) {
	tests := []struct {
		name string
		tree func(*testing.T) (*PKI, []Spec)
		want Action
	}{
		{"new PKI", func(t *testing.T) (*PKI, []Spec) {
			c := testConfig(t, "ECDSA-P256")
			return New(c, filepath.Join(t.TempDir(), "pki")), Tree(c)
		}, Generated},
		{"complete PKI", fullTree, Reused},
	}
	strays := []string{".ca.key.tmp-1", ".apiserver.crt.tmp-22", "etcd/.ca.key.tmp-3", ".sa.pub.tmp-4", ".sa.key.tmp-5"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, specs := tt.tree(t)
			for _, s := range strays {
				path := filepath.Join(p.Dir, s)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("half a key"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			res, err := p.EnsureAll(specs)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Action != tt.want {
					t.Errorf("%s: %q, want %q", r.Name, r.Action, tt.want)
				}
			}
			for _, s := range strays {
				if exists(filepath.Join(p.Dir, s)) {
					t.Errorf("%s left behind", s)
				}
			}
		})
	}
}

// TestFailedPairWriteLeavesOnlyKey makes the certificate's rename fail, the
// same point a crash between the two renames stops at, and checks that the
// result is a lone key without temp files, which the next run regenerates.
func TestFailedPairWriteLeavesOnlyKey(t *testing.T) {
	p, specs := caOnly(t)
	spec, _ := find(specs, "apiserver")
	blocker := filepath.Join(p.CertPath(spec.BaseName), "x")
	if err := os.MkdirAll(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	key, _ := NewKey(p.Algorithm)
	keyPEM, _ := EncodeKey(key)
	err := writePair(file{p.KeyPath(spec.BaseName), keyPEM, KeyMode}, file{p.CertPath(spec.BaseName), []byte("cert"), CertMode})
	if err == nil {
		t.Fatal("rename over a directory succeeded")
	}
	if !exists(p.KeyPath(spec.BaseName)) {
		t.Error("key not in place after the certificate's rename failed")
	}
	if m, _ := filepath.Glob(filepath.Join(p.Dir, ".*"+tmpMarker+"*")); len(m) > 0 {
		t.Errorf("temp files left: %v", m)
	}
	if err := os.RemoveAll(p.CertPath(spec.BaseName)); err != nil {
		t.Fatal(err)
	}
	if res, err := p.Ensure(spec, specs); err != nil || res.Action != Regenerated {
		t.Fatalf("got %q, %v; want %q", res.Action, err, Regenerated)
	}
	assertValidPair(t, p, spec, specs)
}
