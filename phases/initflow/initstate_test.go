package initflow

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node/nodetest"
	"github.com/kubestrap/kubestrap/phases/phasestest"
)

func TestDetectInitState(t *testing.T) {
	dir := t.TempDir()
	c := phasestest.InitConfig(t, nil)
	if s, err := DetectInitState(dir, c); s != Fresh || err != nil {
		t.Fatalf("empty dir: %v %v", s, err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "manifests"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "manifests/kube-apiserver.yaml"), []byte("x"), 0o600)
	if s, _ := DetectInitState(dir, c); s != Partial {
		t.Fatalf("manifests without record: %v", s)
	}
	rec, _ := InitRecordFor(c)
	_ = os.WriteFile(filepath.Join(dir, layout.InitRecord), rec, 0o600)
	// Another token or ignored checks are not a different configuration.
	same := phasestest.InitConfig(t, func(c *config.Init) {
		c.BootstrapTokens = []config.BootstrapToken{{Token: "zzzzzz.0123456789abcdef"}}
		c.NodeRegistration.IgnorePreflightErrors = []string{"Swap"}
	})
	if s, err := DetectInitState(dir, same); s != Complete || err != nil {
		t.Fatalf("same config: %v %v", s, err)
	}
	other := phasestest.InitConfig(t, func(c *config.Init) { c.Cluster.Networking.PodSubnet = "10.200.0.0/16" })
	_, err := DetectInitState(dir, other)
	var ce *ConfigChangedError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "podSubnet: 10.244.0.0/16 -> podSubnet: 10.200.0.0/16") {
		t.Errorf("changed config: %v", err)
	}
}

func TestResumeIgnores(t *testing.T) {
	got := strings.Join(ResumeIgnores(phasestest.InitConfig(t, nil)), ",")
	for _, want := range []string{"Port-6443", "DirAvailable--var-lib-etcd", "DirAvailable--etc-kubernetes-manifests"} {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %s", got, want)
		}
	}
}

// The record init leaves loads as a configuration: phases run later on the
// node (init phase upload-certs) start from it.
func TestInitRecordLoadsAsConfig(t *testing.T) {
	c := phasestest.InitConfig(t, func(c *config.Init) {
		c.Cluster.ControlPlaneEndpoint = "192.168.56.9:6443"
		c.UploadCerts = true
	})
	rec, err := InitRecordFor(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), layout.InitRecord)
	if err := os.WriteFile(path, rec, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := config.LoadInit(path, nil)
	if err != nil {
		t.Fatalf("the init record does not load: %v", err)
	}
	if got.Cluster.ControlPlaneEndpoint != "192.168.56.9:6443" || got.NodeRegistration.Name != "cp-1" || !got.UploadCerts {
		t.Errorf("loaded %+v", got)
	}
}

// A shared directory as etcd's data dir is refused before anything runs.
func TestInitRefusesSharedDataDir(t *testing.T) {
	for _, dir := range []string{"/var/lib", "/home/admin", "/etc/kubernetes"} {
		cfg := phasestest.InitConfig(t, func(c *config.Init) { c.Cluster.Etcd.Local = &config.LocalEtcd{DataDir: dir} })
		_, err := NewInitData(cfg, InitOptions{Out: io.Discard, Env: nodetest.FakeHost(t)})
		if err == nil || !strings.Contains(err.Error(), "etcd.local.dataDir") || !strings.Contains(err.Error(), "/var/lib/etcd") {
			t.Errorf("%s: %v", dir, err)
		}
	}
}
