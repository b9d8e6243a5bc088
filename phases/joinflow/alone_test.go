package joinflow

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
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/node/nodetest"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/phasestest"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd/systemdtest"
)

// joinFixture is a cluster as join sees it: cluster-info (a real CA), the
// uploaded ClusterConfiguration, and this node's Node once registered.
type joinFixture struct {
	info    *join.ClusterInfo
	client  *fake.Clientset
	cluster *config.ClusterConfiguration
}

func newJoinFixture(t *testing.T) joinFixture {
	t.Helper()
	ic := phasestest.InitConfig(t, nil)
	dir := t.TempDir()
	if _, err := certs.New(ic, dir).EnsureAll(certs.Tree(ic)[:1]); err != nil {
		t.Fatal(err)
	}
	ca, _, err := certs.New(ic, dir).LoadCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	b, _ := yaml.Marshal(ic.Cluster)
	client := fake.NewSimpleClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: controlplane.ClusterConfigMap,
		Namespace: "kube-system"}, Data: map[string]string{controlplane.ConfigMapKey: string(b)}})
	return joinFixture{info: &join.ClusterInfo{Server: "https://192.168.56.10:6443", CA: ca, CAPEM: caPEM}, client: client,
		cluster: &ic.Cluster}
}

// Every join phase run alone on a fresh node does its work or names the
// phase it needs first (the kubelet's credentials come from kubelet-start
// and TLS bootstrap); none panics, and none needs an earlier phase's state
// in memory.
func TestEveryJoinPhaseRunsAlone(t *testing.T) {
	phasestest.ShortTimeouts(t)
	needKubelet := "run `kubestrap join phase tls-bootstrap` first"
	want := map[string]string{
		"tls-bootstrap":   "was not signed",
		"wait-registered": needKubelet,
		"node-network":    needKubelet,
		"wait-ready":      needKubelet,
	}
	r := &phases.Runner{Command: "join", Phases: JoinPhases()}
	for _, path := range r.Paths() {
		// A control-plane child run on a worker join says what it lacks.
		if strings.HasPrefix(path, "control-plane-") && strings.Contains(path, "/") {
			want[path] = "not a control-plane join: pass --control-plane"
		}
	}
	for _, path := range r.Paths() {
		t.Run(path, func(t *testing.T) {
			f := newJoinFixture(t)
			d, err := NewJoinData(phasestest.JoinConfig(t), JoinOptions{Out: &bytes.Buffer{}, Env: nodetest.FakeHost(t),
				Systemd: &systemdtest.Fake{}, AgentBinary: phasestest.FakeAgent(t), Ignore: preflight.NewIgnoreSet("all"),
				NodeIP: "192.168.56.11", BootstrapClient: f.client,
				Discover: func(context.Context) (*join.ClusterInfo, error) { return f.info, nil }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = phasestest.RunAlone(t, r, path, d)
			phasestest.CheckOutcome(t, path, want[path], err)
		})
	}
}

// A host that clones a node (same machine-id) is refused in
// identity-check, through the salted registry a bootstrap token may read,
// before anything is written.
func TestJoinRefusesClone(t *testing.T) {
	f := newJoinFixture(t)
	env := nodetest.FakeHost(t)
	reg, err := join.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.CoreV1().ConfigMaps("kube-system").Create(context.Background(), reg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Node w0 registered this very machine-id when it joined.
	id, err := join.HostIdentity(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := join.Register(context.Background(), f.client, "w0", id); err != nil {
		t.Fatal(err)
	}
	d, err := NewJoinData(phasestest.JoinConfig(t), JoinOptions{Out: &bytes.Buffer{}, Env: env, Systemd: &systemdtest.Fake{},
		AgentBinary: phasestest.FakeAgent(t), Ignore: preflight.NewIgnoreSet("all"), NodeIP: "192.168.56.11", BootstrapClient: f.client,
		Discover: func(context.Context) (*join.ClusterInfo, error) { return f.info, nil }})
	if err != nil {
		t.Fatal(err)
	}
	err = (&phases.Runner{Command: "join", Phases: JoinPhases(), Out: &bytes.Buffer{}}).Run(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "already has this host's") ||
		!strings.Contains(err.Error(), "phase identity-check failed") {
		t.Fatalf("clone not refused in identity-check: %v", err)
	}
	for _, p := range []string{"/etc/kubernetes/bootstrap-kubelet.conf", "/etc/kubernetes/pki/ca.crt", "/var/lib/kubelet/config.yaml"} {
		if _, err := os.Stat(env.Root.Path(p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written by a refused join: %v", p, err)
		}
	}
}

// Leftovers of another cluster are refused before anything is written.
func TestJoinRefusesLeftoversOfAnotherCluster(t *testing.T) {
	f := newJoinFixture(t)
	env := nodetest.FakeHost(t)
	nodetest.WriteFile(t, env.Root.Path("/etc/kubernetes/pki/ca.crt"), "-----BEGIN CERTIFICATE-----\nb3RoZXI=\n-----END CERTIFICATE-----\n")
	d, _ := NewJoinData(phasestest.JoinConfig(t), JoinOptions{Out: &bytes.Buffer{}, Env: env, Ignore: preflight.NewIgnoreSet("all"),
		BootstrapClient: f.client, Discover: func(context.Context) (*join.ClusterInfo, error) { return f.info, nil }})
	_, err := phasestest.RunAlone(t, &phases.Runner{Command: "join", Phases: JoinPhases()}, "discovery", d)
	var le *LeftoverError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "another cluster's CA") {
		t.Fatalf("got %v", err)
	}
}

// Every control-plane join phase run alone on a fresh node does its work or
// names what it needs first.
func TestEveryControlPlaneJoinPhaseRunsAlone(t *testing.T) {
	phasestest.ShortTimeouts(t)
	needCerts := "control-plane-prepare/download-certs"
	want := map[string]string{
		"tls-bootstrap":                         "was not signed",
		"wait-registered":                       "run `kubestrap join phase tls-bootstrap`",
		"node-network":                          "run `kubestrap join phase tls-bootstrap`",
		"wait-ready":                            "run `kubestrap join phase tls-bootstrap`",
		"control-plane-prepare":                 "kubeadm-certs",
		"control-plane-prepare/download-certs":  "kubeadm-certs",
		"control-plane-prepare/certs":           needCerts,
		"control-plane-prepare/kubeconfig":      needCerts,
		"control-plane-prepare/control-plane":   "control-plane-prepare/download-certs --certificate-key K` first",
		"control-plane-join":                    "run `kubestrap join phase control-plane-prepare/kubeconfig` first",
		"control-plane-join/etcd":               "run `kubestrap join phase control-plane-prepare/kubeconfig` first",
		"control-plane-join/wait-control-plane": needCerts,
		"control-plane-join/mark-control-plane": "run `kubestrap join phase control-plane-prepare/kubeconfig` first",
	}
	r := &phases.Runner{Command: "join", Phases: JoinPhases()}
	for _, path := range r.Paths() {
		t.Run(path, func(t *testing.T) {
			f := newJoinFixture(t)
			f.cluster.ControlPlaneEndpoint = "192.168.56.9:6443"
			b, _ := yaml.Marshal(f.cluster)
			cm, _ := f.client.CoreV1().ConfigMaps("kube-system").Get(context.Background(), controlplane.ClusterConfigMap, metav1.GetOptions{})
			cm.Data[controlplane.ConfigMapKey] = string(b)
			_, _ = f.client.CoreV1().ConfigMaps("kube-system").Update(context.Background(), cm, metav1.UpdateOptions{})
			cfg := phasestest.JoinConfig(t)
			cfg.ControlPlane = &config.JoinControlPlane{CertificateKey: strings.Repeat("ab", 32),
				LocalAPIEndpoint: config.APIEndpoint{BindPort: 6443}}
			d, err := NewJoinData(cfg, JoinOptions{Out: &bytes.Buffer{}, Env: nodetest.FakeHost(t), Systemd: &systemdtest.Fake{},
				AgentBinary: phasestest.FakeAgent(t), Ignore: preflight.NewIgnoreSet("all"), NodeIP: "192.168.56.12",
				BootstrapClient: f.client, Discover: func(context.Context) (*join.ClusterInfo, error) { return f.info, nil }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = phasestest.RunAlone(t, r, path, d)
			phasestest.CheckOutcome(t, path, want[path], err)
		})
	}
}

// join refuses a control-plane node.
func TestJoinRefusesAControlPlane(t *testing.T) {
	dir := t.TempDir()
	nodetest.WriteFile(t, filepath.Join(dir, layout.InitRecord), "x")
	_, err := PrepareJoin(&bytes.Buffer{}, dir, "cp-1", phasestest.JoinConfig(t), preflight.NewIgnoreSet())
	var re *node.RoleError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "control-plane node") {
		t.Errorf("join on a control-plane node: %v", err)
	}
}
