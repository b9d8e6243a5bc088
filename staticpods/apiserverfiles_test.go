package staticpods

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/encryption"
)

func TestPrepareAPIServer(t *testing.T) {
	root := t.TempDir()
	host := func(p string) string { return filepath.Join(root, p) }
	c := &config.Init{}
	config.SetInitDefaults(c)
	certDir := host(c.Cluster.CertificatesDir)
	if _, err := PrepareAPIServer(&c.Cluster, certDir, host); !errors.Is(err, ErrNoEncryptionKeys) {
		t.Fatalf("no keys: %v", err)
	}
	if _, err := encryption.Ensure(filepath.Join(certDir, "encryption-config.yaml"), "aescbc", time.Now()); err != nil {
		t.Fatal(err)
	}
	note, err := PrepareAPIServer(&c.Cluster, certDir, host)
	if err != nil || !strings.Contains(note, "wrote /etc/kubernetes/audit-policy.yaml") {
		t.Fatalf("note %q, %v", note, err)
	}
	if _, err := os.Stat(host("/etc/kubernetes/audit-policy.yaml")); err != nil {
		t.Fatal(err)
	}
	c.Cluster.APIServer.Audit.PolicyFile = "/srv/policy.yaml"
	if _, err := PrepareAPIServer(&c.Cluster, certDir, host); err == nil || !strings.Contains(err.Error(), "policyFile") {
		t.Errorf("missing policy of the user's: %v", err)
	}
	off := false
	c.Cluster.SecretsEncryption.Enabled, c.Cluster.APIServer.Audit.Enabled = &off, &off
	if note, err := PrepareAPIServer(&c.Cluster, t.TempDir(), host); err != nil || note != "" {
		t.Errorf("both off: %q, %v", note, err)
	}
}
