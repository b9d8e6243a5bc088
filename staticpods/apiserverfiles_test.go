package staticpods

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

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

// The configuration's extra volumes and environment reach the pods, and
// every volume kubestrap mounts itself is one an extra volume may not name.
func TestExtraVolumesAndEnvs(t *testing.T) {
	c := &config.Init{}
	config.SetInitDefaults(c)
	c.Cluster.APIServer.ExtraVolumes = []config.HostPathMount{{Name: "oidc", HostPath: "/srv/oidc", MountPath: "/etc/oidc",
		ReadOnly: true, PathType: corev1.HostPathDirectory}}
	c.Cluster.ControllerManager.ExtraEnvs = []corev1.EnvVar{{Name: "HTTPS_PROXY", Value: "http://proxy:3128"}}
	pods, err := All(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		for _, v := range p.Spec.Volumes {
			if v.Name != "oidc" && !slices.Contains(config.ReservedVolumeNames, v.Name) {
				t.Errorf("%s's volume %s is not in config.ReservedVolumeNames", p.Name, v.Name)
			}
		}
		ctr := p.Spec.Containers[0]
		switch p.Name {
		case KubeAPIServer:
			m := ctr.VolumeMounts[len(ctr.VolumeMounts)-1]
			v := p.Spec.Volumes[len(p.Spec.Volumes)-1]
			if m.Name != "oidc" || m.MountPath != "/etc/oidc" || !m.ReadOnly || v.HostPath.Path != "/srv/oidc" {
				t.Errorf("apiserver's extra volume: %+v %+v", m, v)
			}
		case ControllerManager:
			if len(ctr.Env) != 1 || ctr.Env[0].Value != "http://proxy:3128" {
				t.Errorf("controller manager's env: %+v", ctr.Env)
			}
		}
	}
}
