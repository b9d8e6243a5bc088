package config

import (
	"strings"
	"testing"
)

func TestKubesprayStyleKubeadmConfig(t *testing.T) {
	c, err := LoadInit("testdata/kubeadm/kubespray-style.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	// kubeadm's fields that kubestrap shares are read as kubestrap's.
	switch {
	case c.LocalAPIEndpoint.AdvertiseAddress != "192.168.56.10" || c.NodeRegistration.Name != "cp-1":
		t.Errorf("InitConfiguration not read: %+v", c.InitConfiguration)
	case c.Cluster.Networking.PodSubnet != "10.233.64.0/18" || c.Cluster.CertificatesDir != "/etc/kubernetes/ssl":
		t.Errorf("ClusterConfiguration not read: %+v", c.Cluster)
	case len(c.Cluster.APIServer.ExtraArgs) != 1 || c.Cluster.Etcd.Local == nil || len(c.Cluster.Etcd.Local.ExtraArgs) != 1:
		t.Errorf("extraArgs not read: %+v", c.Cluster)
	case len(c.Cluster.APIServer.ExtraVolumes) != 1 || c.Cluster.APIServer.ExtraVolumes[0].MountPath != "/var/log/audit":
		t.Errorf("extraVolumes not read: %+v", c.Cluster.APIServer)
	case len(c.Cluster.Etcd.Local.ExtraEnvs) != 1 || c.Cluster.Etcd.Local.ExtraEnvs[0].Value != "1":
		t.Errorf("extraEnvs not read: %+v", c.Cluster.Etcd.Local)
	case c.Cluster.KubeProxyConfiguration == nil || c.Cluster.KubeProxyConfiguration.Mode != "ipvs":
		t.Errorf("KubeProxyConfiguration not kept: %+v", c.Cluster.KubeProxyConfiguration)
	case c.Cluster.KubeletConfiguration == nil || c.Cluster.KubeletConfiguration.MaxPods != 110:
		t.Errorf("KubeletConfiguration not kept: %+v", c.Cluster.KubeletConfiguration)
	case c.APIVersion != APIVersion || c.Cluster.APIVersion != APIVersion:
		t.Errorf("read documents must become kubestrap's: %s %s", c.APIVersion, c.Cluster.APIVersion)
	}
	if got := strings.Join(c.SkipPhases, ","); got != "addon/kube-proxy" {
		t.Errorf("skipPhases %s (kubeadm's names are resolved by the phase runner)", got)
	}
	// Each ignored field is named once, with its line.
	want := []string{
		"line 16: InitConfiguration.nodeRegistration.imagePullSerial is kubeadm's",
		"line 17: InitConfiguration.patches is kubeadm's",
		"line 19: InitConfiguration.timeouts is kubeadm's",
		"ClusterConfiguration.dns.imageRepository is kubeadm's",
		"ClusterConfiguration.dns.imageTag is kubeadm's",
	}
	all := strings.Join(c.Warnings, "\n")
	for _, w := range want {
		if strings.Count(all, w) != 1 {
			t.Errorf("want one warning %q in:\n%s", w, all)
		}
	}
	if len(c.Warnings) != len(want) {
		t.Errorf("want %d warnings, got %d:\n%s", len(want), len(c.Warnings), all)
	}
}

func TestGeerlingguyStyleKubeadmConfig(t *testing.T) {
	c, err := LoadInit("testdata/kubeadm/geerlingguy-style.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.SkipPhases, ","); got != "addons/kube-proxy" {
		t.Errorf("proxy.disabled should skip kube-proxy, skipPhases %q", got)
	}
	if k := c.Cluster.KubeletConfiguration; k == nil || k.FailSwapOn == nil || *k.FailSwapOn {
		t.Errorf("failSwapOn: false not kept: %+v", k)
	}
}

func TestKubeadmJoinConfig(t *testing.T) {
	c, err := LoadJoin("testdata/kubeadm/join.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Discovery.BootstrapToken == nil || c.Discovery.BootstrapToken.APIServerEndpoint != "192.168.56.10:6443" ||
		c.NodeRegistration.Name != "w-1" {
		t.Errorf("JoinConfiguration not read: %+v", c)
	}
	if len(c.Warnings) != 2 || !strings.Contains(strings.Join(c.Warnings, "\n"), "JoinConfiguration.timeouts") {
		t.Errorf("warnings: %v", c.Warnings)
	}
}

func TestKubeadmConfigErrors(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  external:\n    endpoints: [https://e:2379]\n",
			"line 4: ClusterConfiguration.etcd.external is not supported (kubestrap runs stacked etcd"},
		{"apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworkin: {}\n", `unknown field "networkin"`},
		{"apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n", "kubeadm config migrate"},
		{"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPod: 3\n", `unknown field "maxPod"`},
		{"apiVersion: kubestrap.io/v1alpha1\nkind: KubeletConfiguration\n", "use `apiVersion: kubelet.config.k8s.io/v1beta1`"},
	} {
		if _, err := Decode([]byte(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.doc, err, tt.want)
		}
	}
}

func TestOverlayKeepsTheUsersOtherSettings(t *testing.T) {
	base := map[string]any{"maxPods": 50, "clusterDNS": []string{"1.1.1.1"}, "authentication": map[string]any{
		"webhook": map[string]any{"cacheTTL": "1m"}}}
	own := map[string]any{"clusterDNS": []string{"10.96.0.10"}, "authentication": map[string]any{
		"webhook": map[string]any{"enabled": true}}}
	var out map[string]any
	replaced, err := Overlay(base, own, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out["maxPods"] != float64(50) || out["authentication"].(map[string]any)["webhook"].(map[string]any)["cacheTTL"] != "1m" {
		t.Errorf("the user's settings were lost: %v", out)
	}
	if len(replaced) != 1 || replaced[0] != `clusterDNS: yours ["1.1.1.1"], kubestrap's ["10.96.0.10"]` {
		t.Errorf("replaced: %v", replaced)
	}
}

func TestJoinNamesTheComponentDocumentsItIgnores(t *testing.T) {
	docs, err := Decode([]byte("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n---\n" +
		"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 90\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := JoinFrom(docs)
	if err != nil || len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], "KubeletConfiguration is read by init") {
		t.Errorf("join with a KubeletConfiguration: %v %v", c.Warnings, err)
	}
}
