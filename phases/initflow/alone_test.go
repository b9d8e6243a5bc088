package initflow

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/node/nodetest"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/phasestest"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd/systemdtest"
)

// Every init phase run alone on a fresh node does its work or says what it
// needs first; none panics.
func TestEveryInitPhaseRunsAlone(t *testing.T) {
	phasestest.ShortTimeouts(t)
	needCA := "run `kubestrap init phase certs/ca` first"
	needEtcdCA := "run `kubestrap init phase certs/etcd-ca` first"
	want := map[string]string{
		"wait-control-plane":       needCA,
		"upload-config":            "run `kubestrap init phase kubelet-start` first",
		"kubelet-finalize":         "waiting for the kubelet to write /var/lib/kubelet/pki/kubelet-client-current.pem",
		"show-join-command":        needCA,
		"bootstrap-token":          needCA,
		"kubeconfig":               needCA,
		"certs/front-proxy-client": "run `kubestrap init phase certs/front-proxy-ca` first",
		// The first node claims the first /24 itself (addons.ClaimFirstPodCIDR).
		"addons":                        "",
		"addons/pod-network":            "",
		"certs/etcd-server":             needEtcdCA,
		"certs/etcd-peer":               needEtcdCA,
		"certs/etcd-healthcheck-client": needEtcdCA,
		"certs/apiserver-etcd-client":   needEtcdCA,
		"control-plane":                 "run `kubestrap init phase certs/encryption-config` first",
		"control-plane/apiserver":       "run `kubestrap init phase certs/encryption-config` first",
	}
	for _, k := range []string{"apiserver", "apiserver-kubelet-client"} {
		want["certs/"+k] = needCA
	}
	for _, k := range certs.Kubeconfigs(phasestest.InitConfig(t, nil)) {
		want["kubeconfig/"+k.Name] = needCA
	}
	r := &phases.Runner{Command: "init", Phases: InitPhases()}
	for _, path := range r.Paths() {
		t.Run(path, func(t *testing.T) {
			env := nodetest.FakeHost(t)
			client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
			d, err := NewInitData(phasestest.InitConfig(t, nil), InitOptions{Out: &bytes.Buffer{}, Env: env, Client: client,
				Systemd: &systemdtest.Fake{}, AgentBinary: phasestest.FakeAgent(t), Ignore: preflight.NewIgnoreSet("all")})
			if err != nil {
				t.Fatal(err)
			}
			_, err = phasestest.RunAlone(t, r, path, d)
			phasestest.CheckOutcome(t, path, want[path], err)
			if path == "addons/pod-network" {
				n, _ := client.CoreV1().Nodes().Get(context.Background(), "cp-1", metav1.GetOptions{})
				conf, rerr := os.ReadFile(filepath.Join(string(env.Root), "etc/cni/net.d/10-kubestrap.conflist"))
				if n.Spec.PodCIDR != "10.244.0.0/24" || rerr != nil || !strings.Contains(string(conf), "10.244.0.0/24") {
					t.Errorf("pod-network alone: podCIDR %q, conflist %v %s", n.Spec.PodCIDR, rerr, conf)
				}
			}
		})
	}
}

// The work a phase run alone must have done, checked below the fake root.
func TestInitPhasesAloneDoTheirWork(t *testing.T) {
	phasestest.ShortTimeouts(t)
	r := &phases.Runner{Command: "init", Phases: InitPhases()}
	env := nodetest.FakeHost(t)
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
	sd := &systemdtest.Fake{}
	d, err := NewInitData(phasestest.InitConfig(t, nil), InitOptions{Out: &bytes.Buffer{}, Env: env, Client: client, Systemd: sd,
		AgentBinary: phasestest.FakeAgent(t), Ignore: preflight.NewIgnoreSet("all")})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"certs/ca", "certs/apiserver", "certs/sa", "certs/encryption-config", "kubeconfig/admin", "etcd/local",
		"control-plane/apiserver", "kubelet-start", "mark-control-plane", "addons/coredns"} {
		if _, err := phasestest.RunAlone(t, r, path, d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	for _, f := range []string{"/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/sa.pub",
		"/etc/kubernetes/pki/encryption-config.yaml", "/etc/kubernetes/audit-policy.yaml",
		"/etc/kubernetes/admin.conf", "/etc/kubernetes/manifests/etcd.yaml", "/etc/kubernetes/manifests/kube-apiserver.yaml",
		"/var/lib/kubelet/config.yaml", "/usr/local/bin/kubelet", "/etc/systemd/system/kubelet.service"} {
		if _, err := os.Stat(env.Root.Path(f)); err != nil {
			t.Errorf("not written below the root: %v", err)
		}
	}
	if st, err := os.Stat(env.Root.Path("/var/lib/etcd")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("/var/lib/etcd: %v %v, want 0700", st.Mode(), err)
	}
	if !strings.Contains(strings.Join(sd.Called(), ","), "restart kubelet.service") {
		t.Errorf("kubelet not started: %v", sd.Called())
	}
	n, _ := client.CoreV1().Nodes().Get(context.Background(), "cp-1", metav1.GetOptions{})
	if _, ok := n.Labels[controlplane.Label]; !ok {
		t.Error("mark-control-plane did not label the node")
	}
	if _, err := client.AppsV1().Deployments("kube-system").Get(context.Background(), "coredns", metav1.GetOptions{}); err != nil {
		t.Errorf("coredns: %v", err)
	}
}

// Per-phase resume keeps one token and one certificate key:
// bootstrap-token, upload-certs and show-join-command run as separate
// commands agree, and a re-run makes no second token.
func TestOneTokenAndKeyAcrossPhaseRuns(t *testing.T) {
	phasestest.ShortTimeouts(t)
	env := nodetest.FakeHost(t)
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
	newData := func(out *bytes.Buffer) InitData {
		cfg := phasestest.InitConfig(t, func(c *config.Init) { c.UploadCerts, c.Cluster.ControlPlaneEndpoint = true, "192.168.56.9:6443" })
		d, err := NewInitData(cfg, InitOptions{Out: &bytes.Buffer{}, JSON: out, Env: env, Client: client,
			Systemd: &systemdtest.Fake{}, AgentBinary: phasestest.FakeAgent(t), Ignore: preflight.NewIgnoreSet("all")})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	r := &phases.Runner{Command: "init", Phases: InitPhases()}
	// A second bootstrap-token run, as a resume would; upload-certs makes
	// and keeps a key.
	for _, p := range []string{"certs", "bootstrap-token", "bootstrap-token", "upload-certs"} {
		if _, err := phasestest.RunAlone(t, r, p, newData(&bytes.Buffer{})); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	secrets, _ := client.CoreV1().Secrets("kube-system").List(context.Background(), metav1.ListOptions{})
	var ids []string
	for _, s := range secrets.Items {
		// upload-certs' own short-lived token owns its Secret; init's has
		// init's description.
		if s.Type == corev1.SecretTypeBootstrapToken && string(s.Data["description"]) == InitTokenDescription {
			ids = append(ids, string(s.Data["token-id"]))
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d init tokens after two bootstrap-token runs, want 1", len(ids))
	}
	id := ids[0]
	cm, _ := client.CoreV1().ConfigMaps("kube-public").Get(context.Background(), "cluster-info", metav1.GetOptions{})
	cm.Data["jws-kubeconfig-"+id] = "signed by the bootstrapsigner"
	_, _ = client.CoreV1().ConfigMaps("kube-public").Update(context.Background(), cm, metav1.UpdateOptions{})
	var out bytes.Buffer
	if _, err := phasestest.RunAlone(t, r, "show-join-command", newData(&out)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"token": "`+id+".") {
		t.Errorf("show-join-command printed another token than the one created (%s):\n%s", id, out.String())
	}
	// The key upload-certs kept reaches show-join-command run alone (it
	// used to travel in the configuration of one run only).
	key, _ := os.ReadFile(env.Root.Path(layout.CertificateKeyFile))
	if k := strings.TrimSpace(string(key)); len(k) != 64 || !strings.Contains(out.String(), `"certificateKey": "`+k+`"`) {
		t.Errorf("show-join-command alone printed no control-plane join with the kept key %q:\n%s", k, out.String())
	}
}

// upload-certs alone makes a key: it is kept in a 0600 file and printed in
// no phase line (Ansible and CI keep those).
func TestUploadCertsKeepsANewKeyOutOfTheLog(t *testing.T) {
	env := nodetest.FakeHost(t)
	client := fake.NewSimpleClientset()
	cfg := phasestest.InitConfig(t, func(c *config.Init) { c.UploadCerts, c.Cluster.ControlPlaneEndpoint = true, "192.168.56.9:6443" })
	out := &bytes.Buffer{}
	d, err := NewInitData(cfg, InitOptions{Out: out, Env: env, Client: client, Systemd: &systemdtest.Fake{},
		AgentBinary: phasestest.FakeAgent(t), Ignore: preflight.NewIgnoreSet("all")})
	if err != nil {
		t.Fatal(err)
	}
	r := &phases.Runner{Command: "init", Phases: InitPhases(), Out: out}
	for _, p := range []string{"certs", "upload-certs"} {
		if err := r.RunPhase(context.Background(), p, d); err != nil {
			t.Fatalf("%s: %v\n%s", p, err, out)
		}
	}
	key, err := os.ReadFile(env.Root.Path(layout.CertificateKeyFile))
	if err != nil || len(strings.TrimSpace(string(key))) != 64 {
		t.Fatalf("kept key: %q, %v", key, err)
	}
	if st, _ := os.Stat(env.Root.Path(layout.CertificateKeyFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	if strings.Contains(out.String(), strings.TrimSpace(string(key))) || !strings.Contains(out.String(), layout.CertificateKeyFile) {
		t.Errorf("output:\n%s", out)
	}
}

// init refuses a node that joined a cluster, as a worker or a control plane.
func TestInitRefusesAJoinedNode(t *testing.T) {
	var re *node.RoleError
	worker := t.TempDir()
	nodetest.WriteFile(t, filepath.Join(worker, layout.JoinRecord), "node: w1\n")
	if _, err := PrepareInit(&bytes.Buffer{}, worker, phasestest.InitConfig(t, nil), preflight.NewIgnoreSet()); !errors.As(err, &re) {
		t.Errorf("init on a joined worker: %v", err)
	}
	// A control plane that joined looks like an unfinished init (manifests,
	// admin.conf) but must not be "resumed" into a cluster of its own.
	cp := t.TempDir()
	nodetest.WriteFile(t, filepath.Join(cp, layout.JoinRecord), "node: cp-2\n")
	nodetest.WriteFile(t, filepath.Join(cp, layout.AdminConf), "x")
	nodetest.WriteFile(t, filepath.Join(cp, layout.ManifestsSubdir, "kube-apiserver.yaml"), "x")
	if _, err := PrepareInit(&bytes.Buffer{}, cp, phasestest.InitConfig(t, nil), preflight.NewIgnoreSet()); !errors.As(err, &re) ||
		!strings.Contains(err.Error(), "joined a cluster as a control plane") {
		t.Errorf("init on a joined control plane: %v", err)
	}
}
