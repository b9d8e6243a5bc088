package kubelet

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/systemd"
)

var systemdWrite = systemd.WriteUnit

func TestClusterDNSIP(t *testing.T) {
	for in, want := range map[string]string{"10.96.0.0/12": "10.96.0.10", "172.20.0.0/16": "172.20.0.10", "fd00::/108": "fd00::a"} {
		got, err := ClusterDNSIP(in)
		if err != nil || got.String() != want {
			t.Errorf("ClusterDNSIP(%s) = %v %v, want %s", in, got, err, want)
		}
	}
}

func TestKubeletConfigRoundTrip(t *testing.T) {
	p := Params{ClusterDNS: netip.MustParseAddr("10.96.0.10"), ClusterDomain: "cluster.local",
		ClientCAFile: "/etc/kubernetes/pki/ca.crt", CgroupDriver: "systemd", CgroupV1: true,
		CRIEndpoint: "unix:///var/run/containerd/containerd.sock", ResolvConf: "/etc/resolv.conf"}
	dir := t.TempDir()
	if err := WriteConfig(dir, Config(p), Flags("192.168.56.10", "cp-1", []config.Arg{{Name: "v", Value: "2"}})); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, layout.KubeletConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var back kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.FailCgroupV1 == nil || *back.FailCgroupV1 || back.CgroupDriver != "systemd" ||
		back.StaticPodPath != "/etc/kubernetes/manifests" || !back.RotateCertificates ||
		*back.Authentication.Anonymous.Enabled || back.Authorization.Mode != "Webhook" || back.ClusterDNS[0] != "10.96.0.10" {
		t.Errorf("unexpected kubelet config:\n%s", b)
	}
	p.CgroupV1 = false
	if Config(p).FailCgroupV1 != nil {
		t.Error("failCgroupV1 set on a cgroup v2 host")
	}
	flags, _ := os.ReadFile(filepath.Join(dir, layout.KubeletFlagsFile))
	if !strings.Contains(string(flags), "--node-ip=192.168.56.10 --hostname-override=cp-1 --v=2\"") {
		t.Errorf("flags %q", flags)
	}
}

func TestResolvConfFor(t *testing.T) {
	root := t.TempDir()
	put := func(p, c string) {
		full := filepath.Join(root, p)
		_ = os.MkdirAll(filepath.Dir(full), 0o755)
		_ = os.WriteFile(full, []byte(c), 0o644)
	}
	put("/etc/resolv.conf", "nameserver 127.0.0.11\noptions ndots:0\n")
	if got, ok := ResolvConfFor(node.Root(root)); got != "" || ok {
		t.Errorf("docker's loopback DNS only: got %q %v", got, ok)
	}
	put("/run/systemd/resolve/resolv.conf", "nameserver 192.168.1.1\n")
	if got, ok := ResolvConfFor(node.Root(root)); got != "/run/systemd/resolve/resolv.conf" || !ok {
		t.Errorf("systemd-resolved upstream: got %q %v", got, ok)
	}
	_ = os.Remove(filepath.Join(root, "run/systemd/resolve/resolv.conf"))
	put("/etc/resolv.conf", "nameserver 127.0.0.53\nnameserver 10.0.2.3\n")
	if got, ok := ResolvConfFor(node.Root(root)); got != "/etc/resolv.conf" || !ok {
		t.Errorf("one real nameserver: got %q %v", got, ok)
	}
}

func TestKubeletUnitAndDropIn(t *testing.T) {
	dir := t.TempDir()
	if _, err := systemdWrite(filepath.Join(dir, "u"), UnitOptions()); err != nil {
		t.Fatal(err)
	}
	u, _ := os.ReadFile(filepath.Join(dir, "u"))
	if !strings.Contains(string(u), "Restart=always") || !strings.Contains(string(u), "WantedBy=multi-user.target") {
		t.Errorf("unit:\n%s", u)
	}
	if _, err := systemdWrite(filepath.Join(dir, "d"), DropInOptions()); err != nil {
		t.Fatal(err)
	}
	d, _ := os.ReadFile(filepath.Join(dir, "d"))
	// The empty ExecStart= resets the unit's, as systemd drop-ins require.
	if !strings.Contains(string(d), "ExecStart=\nExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS") ||
		!strings.Contains(string(d), "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf") {
		t.Errorf("drop-in:\n%s", d)
	}
}

// A user's KubeletConfiguration (kubeadm's way) is the base: its settings
// stay unless kubestrap owns them, and each replaced one is named.
func TestConfigOverTheUsersKubeletConfiguration(t *testing.T) {
	p := Params{ClusterDNS: netip.MustParseAddr("10.96.0.10"), ClusterDomain: "cluster.local",
		ClientCAFile: "/etc/kubernetes/pki/ca.crt", CgroupDriver: "systemd", ResolvConf: "/etc/resolv.conf"}
	f := false
	base := &kubeletv1beta1.KubeletConfiguration{MaxPods: 200, FailSwapOn: &f, ClusterDNS: []string{"169.254.25.10"},
		CgroupDriver: "systemd"}
	c, replaced, err := ConfigOver(base, p)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxPods != 200 || c.FailSwapOn == nil || *c.FailSwapOn || c.StaticPodPath != layout.ManifestDir {
		t.Errorf("merged config lost a setting: %+v", c)
	}
	if len(c.ClusterDNS) != 1 || c.ClusterDNS[0] != "10.96.0.10" {
		t.Errorf("clusterDNS %v: kubestrap's must win", c.ClusterDNS)
	}
	if len(replaced) != 1 || !strings.HasPrefix(replaced[0], "clusterDNS: yours") {
		t.Errorf("replaced %v; an equal cgroupDriver is not a replacement", replaced)
	}
	if c2, r2, _ := ConfigOver(nil, p); len(r2) != 0 || c2.MaxPods != 0 {
		t.Errorf("no base: %v %+v", r2, c2)
	}
}
