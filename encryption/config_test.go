package encryption

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)

func TestEnsureMakesThenKeeps(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pki", "encryption-config.yaml")
	created, err := Ensure(p, AESCBC, t0)
	if err != nil || !created {
		t.Fatalf("first Ensure: created %v, %v", created, err)
	}
	first, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if st.Mode().Perm() != Mode {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	keys, err := Read(p)
	if err != nil || len(keys) != 1 || keys[0].String() != "aescbc/key-20261203T200000Z" {
		t.Fatalf("keys %v, %v", keys, err)
	}
	if !strings.Contains(string(first), "identity: {}") {
		t.Errorf("no identity fallback for Secrets written before encryption:\n%s", first)
	}
	created, err = Ensure(p, Secretbox, t0.Add(time.Hour))
	again, _ := os.ReadFile(p)
	if err != nil || created || string(again) != string(first) {
		t.Errorf("second Ensure rewrote the keys: created %v, %v", created, err)
	}
}

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ body, want string }{
		"identity first": {`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - identity: {}
  - aescbc: {keys: [{name: k, secret: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}
`, "unencrypted"},
		"short key": {`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - secretbox: {keys: [{name: k, secret: "AAAA"}]}
`, "3 bytes"},
		"no secrets": {`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [configmaps]
  providers: [{identity: {}}]
`, "no entry for secrets"},
		"typo": {"apiVersion: v1\nresourcez: []\n", "not an EncryptionConfiguration"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
		// Ensure keeps a file it cannot read, rather than replace its keys.
		before, _ := os.ReadFile(p)
		if _, err := Ensure(p, AESCBC, t0); err == nil {
			t.Errorf("%s: Ensure accepted a bad file", name)
		}
		if after, _ := os.ReadFile(p); string(after) != string(before) {
			t.Errorf("%s: Ensure changed the file", name)
		}
	}
}

func TestKeyOf(t *testing.T) {
	a, _ := NewKey(AESCBC, t0)
	b, _ := NewKey(Secretbox, t0.Add(time.Hour))
	keys := []Key{b, a}
	for in, want := range map[string]string{
		"k8s:enc:aescbc:v1:key-20261203T200000Z:\x00\x01": "aescbc/key-20261203T200000Z",
		"k8s:enc:secretbox:v1:key-20261203T210000Z:xyz":   "secretbox/key-20261203T210000Z",
		"k8s:enc:aescbc:v1:key-gone:xyz":                  "unknown",
		"k8s\x00\x0a\x0cv1\x12\x06Secret":                 "identity",
	} {
		if got := KeyOf([]byte(in), keys); got != want {
			t.Errorf("KeyOf(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := NewKey("kms", t0); err == nil {
		t.Error("NewKey accepted an unknown provider")
	}
}
