package staticpods

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/golden"
)

func testConfig(t *testing.T, mutate func(*config.Init)) *config.Init {
	t.Helper()
	c := &config.Init{}
	c.NodeRegistration.Name = "cp-1"
	c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	if mutate != nil {
		mutate(c)
	}
	config.SetInitDefaults(c)
	if err := config.ValidateInit(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGolden(t *testing.T) {
	pods, err := All(testConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		got, err := Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", p.Name+".yaml"), got)
		var back corev1.Pod
		if err := yaml.UnmarshalStrict(got, &back); err != nil {
			t.Errorf("%s does not decode strictly as a Pod: %v", p.Name, err)
		}
	}
}

func flags(p *corev1.Pod) map[string]string {
	m := map[string]string{}
	for _, a := range p.Spec.Containers[0].Command[1:] {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		m[k] = v
	}
	return m
}

func TestControlPlaneFlags(t *testing.T) {
	c := testConfig(t, func(c *config.Init) {
		c.Cluster.APIServer.ExtraArgs = []config.Arg{{Name: "authorization-mode", Value: "Node,RBAC,Webhook"}, {Name: "v", Value: "2"}}
		c.Cluster.Networking.PodSubnet = "10.200.0.0/16"
	})
	pods, err := All(c)
	if err != nil {
		t.Fatal(err)
	}
	etcd, api, kcm, sched := flags(pods[0]), flags(pods[1]), flags(pods[2]), flags(pods[3])
	checks := []struct{ got, want string }{
		{api["authorization-mode"], "Node,RBAC,Webhook"}, // extra args override
		{api["v"], "2"},
		{api["enable-bootstrap-token-auth"], "true"},
		{api["etcd-servers"], "https://127.0.0.1:2379"},
		{api["service-account-issuer"], "https://kubernetes.default.svc.cluster.local"},
		{kcm["controllers"], "*,bootstrapsigner,tokencleaner"},
		{kcm["allocate-node-cidrs"], "true"},
		{kcm["cluster-cidr"], "10.200.0.0/16"},
		{kcm["service-account-private-key-file"], "/etc/kubernetes/pki/sa.key"},
		{etcd["client-cert-auth"], "true"},
		{etcd["peer-client-cert-auth"], "true"},
		{etcd["initial-cluster"], "cp-1=https://192.168.56.10:2380"},
		{sched["kubeconfig"], "/etc/kubernetes/scheduler.conf"},
	}
	for i, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("check %d: got %q, want %q", i, ch.got, ch.want)
		}
	}
	for _, p := range pods {
		s := p.Spec
		if !s.HostNetwork || s.PriorityClassName != "system-node-critical" || s.Containers[0].StartupProbe == nil ||
			s.Containers[0].LivenessProbe == nil || s.Containers[0].Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s: missing hostNetwork, priority, probes or requests", p.Name)
		}
	}
}

func TestProbePortsAndSchemes(t *testing.T) {
	pods, _ := All(testConfig(t, nil))
	want := map[string]struct {
		port   int32
		scheme corev1.URIScheme
		host   string
	}{
		Etcd:              {2381, corev1.URISchemeHTTP, "127.0.0.1"},
		KubeAPIServer:     {6443, corev1.URISchemeHTTPS, "192.168.56.10"},
		ControllerManager: {10257, corev1.URISchemeHTTPS, "127.0.0.1"},
		Scheduler:         {10259, corev1.URISchemeHTTPS, "127.0.0.1"},
	}
	for _, p := range pods {
		g := p.Spec.Containers[0].LivenessProbe.HTTPGet
		w := want[p.Name]
		if g.Port.IntVal != w.port || g.Scheme != w.scheme || g.Host != w.host {
			t.Errorf("%s liveness probe %s://%s:%d", p.Name, g.Scheme, g.Host, g.Port.IntVal)
		}
	}
}

func TestVolumesCoverBothDistros(t *testing.T) {
	pods, _ := All(testConfig(t, nil))
	api := pods[1]
	paths := map[string]bool{}
	for _, v := range api.Spec.Volumes {
		paths[v.HostPath.Path] = true
	}
	for _, p := range []string{"/etc/ssl/certs", "/etc/pki/ca-trust", "/etc/pki/tls/certs", "/etc/kubernetes/pki"} {
		if !paths[p] {
			t.Errorf("kube-apiserver lacks a hostPath for %s", p)
		}
	}
	etcd := pods[0]
	for _, m := range etcd.Spec.Containers[0].VolumeMounts {
		if m.Name == "etcd-data" && m.ReadOnly {
			t.Error("etcd data dir mounted read-only")
		}
	}
}

func TestEtcd35Flags(t *testing.T) {
	c := testConfig(t, func(c *config.Init) { c.Cluster.KubernetesVersion = "v1.33.13" })
	pods, _ := All(c)
	f := flags(pods[0])
	if f["experimental-initial-corrupt-check"] != "true" || f["feature-gates"] != "" {
		t.Errorf("etcd 3.5 flags wrong: %v", f)
	}
	if !strings.HasSuffix(pods[0].Spec.Containers[0].Image, ":3.5.24-0") {
		t.Errorf("image %s", pods[0].Spec.Containers[0].Image)
	}
}

func TestWriteIsAtomicAndIdempotent(t *testing.T) {
	dir := t.TempDir()
	pods, _ := All(testConfig(t, nil))
	path, changed, err := Write(dir, pods[0])
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != ManifestMode {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if _, changed, err = Write(dir, pods[0]); err != nil || changed {
		t.Errorf("second write: changed=%v err=%v", changed, err)
	}
}
