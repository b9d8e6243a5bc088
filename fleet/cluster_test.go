package fleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validCluster = `apiVersion: kubestrap.io/v1alpha1
kind: Cluster
metadata: {name: lab}
spec:
  release: dist/kubestrap.tar.gz
  ssh: {user: kube, keyPath: key}
  hosts:
  - {address: 10.0.0.1, role: control-plane}
  - {address: 127.0.0.1, role: worker, nodeIP: 192.168.56.11, ssh: {port: 2222, user: vagrant}}
`

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(validCluster))
	if err != nil {
		t.Fatal(err)
	}
	h0, h1 := c.Spec.Hosts[0], c.Spec.Hosts[1]
	if h0.SSH.User != "kube" || h0.SSH.Port != 22 || h0.NodeIP != "10.0.0.1" || h0.SSH.KeyPath != "key" {
		t.Errorf("host 0 defaults: %+v", h0)
	}
	if h1.SSH.User != "vagrant" || h1.SSH.Port != 2222 || h1.NodeIP != "192.168.56.11" {
		t.Errorf("host 1: %+v", h1)
	}
	if h1.ID() != "127.0.0.1:2222" || h0.ID() != "10.0.0.1" {
		t.Errorf("IDs %q %q", h0.ID(), h1.ID())
	}
	if got := len(c.ControlPlanes()); got != 1 {
		t.Errorf("%d control planes", got)
	}
}

func TestLoopbackAddressIsNoNodeIP(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(validCluster, "nodeIP: 192.168.56.11, ", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if ip := c.Spec.Hosts[1].NodeIP; ip != "" {
		t.Errorf("a host reached over 127.0.0.1 got node IP %q; want none (kubestrap detects it)", ip)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown field", "release:", "relase:", `unknown field "relase"`},
		{"kind", "kind: Cluster", "kind: Clusters", "want apiVersion: kubestrap.io/v1alpha1 and kind: Cluster"},
		{"role", "role: worker", "role: node", `role "node": use control-plane or worker`},
		{"no control plane", "role: control-plane", "role: worker", "no host has role control-plane"},
		{"duplicate", "address: 127.0.0.1, role: worker, nodeIP: 192.168.56.11, ssh: {port: 2222, user: vagrant}", "address: 10.0.0.1, role: worker", "is also spec.hosts[0]"},
		{"bad node IP", "nodeIP: 192.168.56.11", "nodeIP: 10.0.2.15", "VirtualBox's NAT address"},
		{"port", "port: 2222", "port: 70000", "ssh.port 70000"},
		{"HA without endpoint", "role: worker", "role: control-plane", "need spec.cluster.controlPlaneEndpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(validCluster, tc.from, tc.to, 1)
			if doc == validCluster {
				t.Fatalf("the case does not change the document")
			}
			_, err := Parse([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadResolvesPathsAndChecksFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cluster.yaml")
	if err := os.WriteFile(file, []byte(validCluster), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(file)
	if err == nil || !strings.Contains(err.Error(), "spec.release") || !strings.Contains(err.Error(), "make dist") {
		t.Fatalf("a missing release: %v", err)
	}
	for _, f := range []string{"dist/kubestrap.tar.gz", "key"} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.Release != filepath.Join(dir, "dist/kubestrap.tar.gz") || c.Spec.Hosts[0].SSH.KeyPath != filepath.Join(dir, "key") {
		t.Errorf("paths not resolved against the file's directory: %q %q", c.Spec.Release, c.Spec.Hosts[0].SSH.KeyPath)
	}
	if home, _ := os.UserHomeDir(); c.Spec.Hosts[0].SSH.KnownHostsPath != filepath.Join(home, ".ssh/known_hosts") {
		t.Errorf("known_hosts default %q", c.Spec.Hosts[0].SSH.KnownHostsPath)
	}
}
