package images

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/config"
)

func TestImagesDefault(t *testing.T) {
	c := &config.ClusterConfiguration{}
	config.SetClusterDefaults(c)
	s, err := Images(c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"registry.k8s.io/kube-apiserver:v1.35.4", "registry.k8s.io/kube-controller-manager:v1.35.4",
		"registry.k8s.io/kube-scheduler:v1.35.4", "registry.k8s.io/kube-proxy:v1.35.4",
		"registry.k8s.io/etcd:3.6.6-0", "registry.k8s.io/coredns/coredns:v1.13.1", "registry.k8s.io/pause:3.10.1",
		"ghcr.io/flannel-io/flannel:v0.28.10",
	}
	if got := strings.Join(s.List(), " "); got != strings.Join(want, " ") {
		t.Errorf("images\n got %s\nwant %s", got, strings.Join(want, " "))
	}
}

func TestImagesOverrides(t *testing.T) {
	c := &config.ClusterConfiguration{ImageRepository: "mirror.local:5000/k8s", KubernetesVersion: "v1.34.4",
		Etcd: config.Etcd{Local: &config.LocalEtcd{ImageTag: "3.6.5-1"}}, Networking: config.Networking{PodNetwork: "none"}}
	config.SetClusterDefaults(c)
	s, err := Images(c)
	if err != nil {
		t.Fatal(err)
	}
	if s.Etcd != "mirror.local:5000/k8s/etcd:3.6.5-1" || s.Flannel != "" || s.Pause != "mirror.local:5000/k8s/pause:3.10.1" {
		t.Errorf("unexpected %+v", s)
	}
}

// The bundle builds images at the versions in bundle/versions.env; they must
// be the ones the manifests reference, or air-gapped nodes cannot start.
func TestBundleVersionsAgree(t *testing.T) {
	f, err := os.Open("../../bundle/versions.env")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	cv, err := VersionsFor(env["KUBERNETES_VERSION"])
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"KUBERNETES_VERSION": {env["KUBERNETES_VERSION"], config.DefaultKubernetesVersion},
		"ETCD_VERSION":       {env["ETCD_VERSION"], cv.Etcd},
		"COREDNS_VERSION":    {env["COREDNS_VERSION"], cv.CoreDNS},
		"PAUSE_VERSION":      {env["PAUSE_VERSION"], cv.Pause},
		"FLANNEL_VERSION":    {env["FLANNEL_VERSION"], FlannelVersion},
	}
	for k, v := range checks {
		if v[0] != v[1] {
			t.Errorf("bundle/versions.env %s=%s, but kubestrap uses %s", k, v[0], v[1])
		}
	}
}
