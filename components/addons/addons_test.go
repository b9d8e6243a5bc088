package addons

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
)

func TestAddonsRenderAndDecode(t *testing.T) {
	c := &config.ClusterConfiguration{}
	config.SetClusterDefaults(c)
	img, _ := images.Images(c)
	with, err := CoreDNSManifest(c, img, "https://192.168.56.10:6443", true)
	if err != nil {
		t.Fatal(err)
	}
	without, _ := CoreDNSManifest(c, img, "https://192.168.56.10:6443", false)
	if !strings.Contains(string(with), "forward . /etc/resolv.conf") || strings.Contains(string(without), "forward") ||
		strings.Contains(string(without), "loop") || !strings.Contains(string(with), `value: "192.168.56.10"`) {
		t.Error("upstream switch does not control forward/loop")
	}
	proxy, err := KubeProxyManifest(c, img, "https://192.168.56.10:6443", false)
	if err != nil {
		t.Fatal(err)
	}
	flannel, err := FlannelManifest(c, img, "https://192.168.56.10:6443")
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string][]byte{"coredns": with, "kube-proxy": proxy, "flannel": flannel} {
		objs, err := apply.DecodeObjects(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, o := range objs {
			switch o := o.(type) {
			case *corev1.Service:
				if o.Spec.ClusterIP != "10.96.0.10" {
					t.Errorf("kube-dns clusterIP %s", o.Spec.ClusterIP)
				}
			case *appsv1.DaemonSet:
				if img := o.Spec.Template.Spec.Containers[0].Image; img != img0(name, c) {
					t.Errorf("%s image %s", name, img)
				}
			case *corev1.ConfigMap:
				if name == "kube-proxy" && !strings.Contains(o.Data["config.conf"], "maxPerCore: 0") {
					t.Errorf("kube-proxy config lacks maxPerCore 0:\n%s", o.Data["config.conf"])
				}
				if name == "flannel" && !strings.Contains(o.Data["net-conf.json"], `"Network": "10.244.0.0/16"`) {
					t.Errorf("flannel net-conf: %s", o.Data["net-conf.json"])
				}
			}
		}
	}
}

func img0(name string, c *config.ClusterConfiguration) string {
	s, _ := images.Images(c)
	if name == "flannel" {
		return s.Flannel
	}
	return s.Proxy
}

func TestConflist(t *testing.T) {
	b, err := Conflist("10.244.1.0/24", 1450)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"subnet": "10.244.1.0/24"`, `"mtu": 1450`, `"type": "portmap"`, `"bridge": "cni0"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("conflist lacks %s:\n%s", want, b)
		}
	}
	if _, err := Conflist("nope", 1450); err == nil {
		t.Error("bad CIDR accepted")
	}
}

// TestFlannelInterfaceIsTheNodeIPs pins how flanneld picks its interface:
// the one holding the node's IP (status.hostIP, the kubelet's --node-ip)
// whatever the API server's address is. Without it flanneld takes the
// default route's interface: 10.0.2.15, the same on every Vagrant VM.
func TestFlannelInterfaceIsTheNodeIPs(t *testing.T) {
	c := &config.ClusterConfiguration{}
	config.SetClusterDefaults(c)
	img, _ := images.Images(c)
	for _, server := range []string{"https://192.168.56.10:6443", "https://[fd00::10]:6443", "https://k8s-api.example.com:6443"} {
		t.Run(server, func(t *testing.T) {
			m, err := FlannelManifest(c, img, server)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := apply.DecodeObjects(m)
			if err != nil {
				t.Fatal(err)
			}
			var ds *appsv1.DaemonSet
			for _, o := range objs {
				if d, ok := o.(*appsv1.DaemonSet); ok {
					ds = d
				}
			}
			if ds == nil {
				t.Fatal("no DaemonSet in the flannel manifest")
			}
			ctr := ds.Spec.Template.Spec.Containers[0]
			if n := countArg(ctr.Args, "--iface=$(NODE_IP)"); n != 1 {
				t.Errorf("args %v: --iface=$(NODE_IP) %d times, want once", ctr.Args, n)
			}
			for _, a := range ctr.Args {
				if strings.HasPrefix(a, "--iface-can-reach") || strings.HasPrefix(a, "--iface-regex") {
					t.Errorf("args %v: %s competes with --iface", ctr.Args, a)
				}
			}
			var from string
			for _, e := range ctr.Env {
				if e.Name == "NODE_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
					from = e.ValueFrom.FieldRef.FieldPath
				}
			}
			if from != "status.hostIP" {
				t.Errorf("env NODE_IP comes from %q, want status.hostIP", from)
			}
		})
	}
}

func countArg(args []string, want string) int {
	n := 0
	for _, a := range args {
		if a == want {
			n++
		}
	}
	return n
}
