package addons

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/golden"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
)

// goldenConfig is a defaulted init config with the host-dependent fields
// (node name, advertise address) fixed, as staticpods' tests build it.
func goldenConfig(t *testing.T) *config.Init {
	t.Helper()
	c, err := config.LoadInit("", func(c *config.Init) {
		c.NodeRegistration.Name = "cp-1"
		c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGoldenCoreDNS(t *testing.T) {
	c := goldenConfig(t)
	img, err := images.Images(&c.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	for name, upstream := range map[string]bool{"coredns-upstream": true, "coredns-no-upstream": false} {
		t.Run(name, func(t *testing.T) {
			m, err := CoreDNSManifest(&c.Cluster, img, certs.ClusterServer(c), upstream)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".golden"), m)
		})
	}
}

func TestGoldenKubeProxy(t *testing.T) {
	c := goldenConfig(t)
	img, err := images.Images(&c.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	for name, writable := range map[string]bool{"kube-proxy-conntrack-writable": true, "kube-proxy-conntrack-readonly": false} {
		t.Run(name, func(t *testing.T) {
			m, err := KubeProxyManifest(&c.Cluster, img, certs.ClusterServer(c), writable)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".golden"), m)
		})
	}
}

func TestGoldenFlannel(t *testing.T) {
	c := goldenConfig(t)
	img, err := images.Images(&c.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FlannelManifest(&c.Cluster, img, certs.ClusterServer(c))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "flannel.golden"), m)
}

func TestGoldenConflist(t *testing.T) {
	b, err := Conflist("10.244.1.0/24", 1450)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "conflist.golden"), b)
}

// The user's KubeProxyConfiguration (kubeadm's way) is kept but for what
// kubestrap's DaemonSet needs: the pod network and the kubeconfig path.
func TestKubeProxyOverTheUsersConfiguration(t *testing.T) {
	c := goldenConfig(t)
	c.Cluster.KubeProxyConfiguration = &kubeproxyv1alpha1.KubeProxyConfiguration{Mode: "ipvs", ClusterCIDR: "10.1.0.0/16"}
	c.Cluster.KubeProxyConfiguration.ClientConnection.Kubeconfig = "/etc/kubernetes/kube-proxy.conf"
	c.Cluster.KubeProxyConfiguration.IPVS.Scheduler = "rr"
	b, err := KubeProxyConfig(&c.Cluster, true)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"mode: ipvs", "scheduler: rr", "kubeconfig: /var/lib/kube-proxy/kubeconfig.conf",
		"clusterCIDR: " + c.Cluster.Networking.PodSubnet} {
		if !strings.Contains(s, want) {
			t.Errorf("kube-proxy config lacks %q:\n%s", want, s)
		}
	}
}
