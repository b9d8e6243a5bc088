package phases

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/hostfs"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd/systemdtest"
)

// fakeHost is a healthy systemd node in a temp dir: reads and writes of
// the phases go there.
func fakeHost(t *testing.T) *preflight.Env {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"/proc/meminfo": "MemTotal: 24000000 kB\n",
		"/proc/swaps":   "Filename Type Size Used Priority\n",
		"/proc/sys/net/bridge/bridge-nf-call-iptables": "1\n",
		"/proc/sys/net/ipv4/ip_forward":                "1\n",
		"/proc/sys/kernel/osrelease":                   "6.1.0-18-amd64\n",
		"/proc/sys/fs/inotify/max_user_instances":      "8192\n",
		"/proc/sys/fs/inotify/max_user_watches":        "1048576\n",
		"/proc/1/comm":                                 "systemd\n",
		"/etc/machine-id":                              "0123456789abcdef0123456789abcdef\n",
		"/sys/fs/cgroup/cgroup.controllers":            "cpu memory\n",
		"/etc/resolv.conf":                             "nameserver 192.168.56.1\n",
		// CNI plugins as a packaged node has them (containernetworking-plugins).
		"/opt/cni/bin/bridge": "#!", "/opt/cni/bin/host-local": "#!", "/opt/cni/bin/loopback": "#!", "/opt/cni/bin/portmap": "#!",
		"/etc/containerd/config.toml": "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n" +
			"  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n    SystemdCgroup = true\n",
	}
	for p, c := range files {
		writeFile(t, filepath.Join(root, p), c)
	}
	if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &preflight.Env{
		Root:       hostfs.Root(root),
		UID:        func() int { return 0 },
		NumCPU:     func() int { return 2 },
		Hostname:   func() (string, error) { return "cp-1", nil },
		LookupHost: func(string) ([]string, error) { return []string{"192.168.56.10"}, nil },
		LookPath:   func(b string) (string, error) { return "/usr/bin/" + b, nil },
		Listen:     func(string, string) (net.Listener, error) { return nil, errors.New("port in use by the test") },
		Run:        func(string, ...string) ([]byte, error) { return nil, errors.New("no commands in tests") },
		CRIVersion: func(context.Context, string) (string, string, error) { return "containerd", "1.6.20", nil },
		Interfaces: func() ([]preflight.Interface, error) { return nil, nil },
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fakeAgent(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "kubelet")
	writeFile(t, p, "#!/bin/true\n")
	return p
}

func shortTimeouts(t *testing.T) {
	cp, api := ControlPlaneTimeout, APITimeout
	ControlPlaneTimeout, APITimeout = 300*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { ControlPlaneTimeout, APITimeout = cp, api })
}

// runAlone runs one phase on a fresh node, turning a panic into a failure.
func runAlone(t *testing.T, r *Runner, path string, d Data) (out string, err error) {
	t.Helper()
	var buf bytes.Buffer
	r.Out = &buf
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("phase %s panicked: %v", path, p)
		}
	}()
	err = r.RunPhase(context.Background(), path, d)
	return buf.String(), err
}

// checkOutcome asserts a phase's result: want "" means success, otherwise a
// substring of the error that names what is missing.
func checkOutcome(t *testing.T, path, want string, err error) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("phase %s alone: %v", path, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("phase %s alone: error %v, want one naming %q", path, err, want)
	}
}

// Every init phase run alone on a fresh node does its work or says what it
// needs first; none panics.
func TestEveryInitPhaseRunsAlone(t *testing.T) {
	shortTimeouts(t)
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
	}
	for _, k := range []string{"apiserver", "apiserver-kubelet-client"} {
		want["certs/"+k] = needCA
	}
	for _, k := range certs.Kubeconfigs(initCfg(t, nil)) {
		want["kubeconfig/"+k.Name] = needCA
	}
	r := &Runner{Command: "init", Phases: InitPhases()}
	for _, path := range r.Paths() {
		t.Run(path, func(t *testing.T) {
			env := fakeHost(t)
			client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
			d, err := NewInitData(initCfg(t, nil), InitOptions{Out: &bytes.Buffer{}, Env: env, Client: client,
				Systemd: &systemdtest.Fake{}, AgentBinary: fakeAgent(t), Ignore: preflight.NewIgnoreSet("all")})
			if err != nil {
				t.Fatal(err)
			}
			_, err = runAlone(t, r, path, d)
			checkOutcome(t, path, want[path], err)
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

// joinFixture is a cluster as join sees it: cluster-info (a real CA), the
// uploaded ClusterConfiguration, and this node's Node once registered.
type joinFixture struct {
	info    *join.ClusterInfo
	client  *fake.Clientset
	cluster *config.ClusterConfiguration
}

func newJoinFixture(t *testing.T) joinFixture {
	t.Helper()
	ic := initCfg(t, nil)
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

func joinCfg(t *testing.T) *config.JoinConfiguration {
	t.Helper()
	c, err := config.LoadJoin("", func(c *config.JoinConfiguration) {
		c.NodeRegistration.Name = "w1"
		c.Discovery.BootstrapToken = &config.BootstrapTokenDiscovery{APIServerEndpoint: "192.168.56.10:6443",
			Token: "abcdef.0123456789abcdef", CACertHashes: []string{"sha256:" + strings.Repeat("0", 64)}}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every join phase run alone on a fresh node does its work or names the
// phase it needs first (the kubelet's credentials come from kubelet-start
// and TLS bootstrap); none panics, and none needs an earlier phase's state
// in memory.
func TestEveryJoinPhaseRunsAlone(t *testing.T) {
	shortTimeouts(t)
	needKubelet := "run `kubestrap join phase tls-bootstrap` first"
	want := map[string]string{
		"tls-bootstrap":   "was not signed",
		"wait-registered": needKubelet,
		"node-network":    needKubelet,
		"wait-ready":      needKubelet,
	}
	r := &Runner{Command: "join", Phases: JoinPhases()}
	for _, path := range r.Paths() {
		// A control-plane child run on a worker join says what it lacks.
		if strings.HasPrefix(path, "control-plane-") && strings.Contains(path, "/") {
			want[path] = "not a control-plane join: pass --control-plane"
		}
	}
	for _, path := range r.Paths() {
		t.Run(path, func(t *testing.T) {
			f := newJoinFixture(t)
			d, err := NewJoinData(joinCfg(t), JoinOptions{Out: &bytes.Buffer{}, Env: fakeHost(t),
				Systemd: &systemdtest.Fake{}, AgentBinary: fakeAgent(t), Ignore: preflight.NewIgnoreSet("all"),
				NodeIP: "192.168.56.11", BootstrapClient: f.client,
				Discover: func(context.Context) (*join.ClusterInfo, error) { return f.info, nil }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = runAlone(t, r, path, d)
			checkOutcome(t, path, want[path], err)
		})
	}
}

// The work a phase run alone must have done, checked below the fake root.
func TestInitPhasesAloneDoTheirWork(t *testing.T) {
	shortTimeouts(t)
	r := &Runner{Command: "init", Phases: InitPhases()}
	env := fakeHost(t)
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
	sd := &systemdtest.Fake{}
	d, err := NewInitData(initCfg(t, nil), InitOptions{Out: &bytes.Buffer{}, Env: env, Client: client, Systemd: sd,
		AgentBinary: fakeAgent(t), Ignore: preflight.NewIgnoreSet("all")})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"certs/ca", "certs/apiserver", "certs/sa", "kubeconfig/admin", "etcd/local",
		"control-plane/apiserver", "kubelet-start", "mark-control-plane", "addons/coredns"} {
		if _, err := runAlone(t, r, path, d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	for _, f := range []string{"/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/sa.pub",
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

// Per-phase resume keeps one token: bootstrap-token and show-join-command
// run as two separate commands agree, and a re-run makes no second token.
func TestOneTokenAcrossPhaseRuns(t *testing.T) {
	shortTimeouts(t)
	env := fakeHost(t)
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
	newData := func(out *bytes.Buffer) InitData {
		d, err := NewInitData(initCfg(t, nil), InitOptions{Out: &bytes.Buffer{}, JSON: out, Env: env, Client: client,
			Systemd: &systemdtest.Fake{}, AgentBinary: fakeAgent(t), Ignore: preflight.NewIgnoreSet("all")})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	r := &Runner{Command: "init", Phases: InitPhases()}
	for _, p := range []string{"certs/ca", "bootstrap-token", "bootstrap-token"} { // a second run, as a resume would
		if _, err := runAlone(t, r, p, newData(&bytes.Buffer{})); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	secrets, _ := client.CoreV1().Secrets("kube-system").List(context.Background(), metav1.ListOptions{})
	if len(secrets.Items) != 1 {
		t.Fatalf("%d tokens after two bootstrap-token runs, want 1", len(secrets.Items))
	}
	id := string(secrets.Items[0].Data["token-id"])
	cm, _ := client.CoreV1().ConfigMaps("kube-public").Get(context.Background(), "cluster-info", metav1.GetOptions{})
	cm.Data["jws-kubeconfig-"+id] = "signed by the bootstrapsigner"
	_, _ = client.CoreV1().ConfigMaps("kube-public").Update(context.Background(), cm, metav1.UpdateOptions{})
	var out bytes.Buffer
	if _, err := runAlone(t, r, "show-join-command", newData(&out)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"token": "`+id+".") {
		t.Errorf("show-join-command printed another token than the one created (%s):\n%s", id, out.String())
	}
}

// A host that clones a node (same machine-id) is refused in
// identity-check, through the salted registry a bootstrap token may read,
// before anything is written.
func TestJoinRefusesClone(t *testing.T) {
	f := newJoinFixture(t)
	env := fakeHost(t)
	reg, err := join.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.CoreV1().ConfigMaps("kube-system").Create(context.Background(), reg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Node w0 registered this very machine-id when it joined.
	id, err := localIdentity(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := join.Register(context.Background(), f.client, "w0", id); err != nil {
		t.Fatal(err)
	}
	d, err := NewJoinData(joinCfg(t), JoinOptions{Out: &bytes.Buffer{}, Env: env, Systemd: &systemdtest.Fake{},
		AgentBinary: fakeAgent(t), Ignore: preflight.NewIgnoreSet("all"), NodeIP: "192.168.56.11", BootstrapClient: f.client,
		Discover: func(context.Context) (*join.ClusterInfo, error) { return f.info, nil }})
	if err != nil {
		t.Fatal(err)
	}
	err = (&Runner{Command: "join", Phases: JoinPhases(), Out: &bytes.Buffer{}}).Run(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "already has this host's machine-id") ||
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
	env := fakeHost(t)
	writeFile(t, env.Root.Path("/etc/kubernetes/pki/ca.crt"), "-----BEGIN CERTIFICATE-----\nb3RoZXI=\n-----END CERTIFICATE-----\n")
	d, _ := NewJoinData(joinCfg(t), JoinOptions{Out: &bytes.Buffer{}, Env: env, Ignore: preflight.NewIgnoreSet("all"),
		BootstrapClient: f.client, Discover: func(context.Context) (*join.ClusterInfo, error) { return f.info, nil }})
	_, err := runAlone(t, &Runner{Command: "join", Phases: JoinPhases()}, "discovery", d)
	var le *LeftoverError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "another cluster's CA") {
		t.Fatalf("got %v", err)
	}
}

func TestRoles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, layout.InitRecord), "x")
	_, err := PrepareJoin(&bytes.Buffer{}, dir, "cp-1", joinCfg(t), preflight.NewIgnoreSet())
	var re *RoleError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "control-plane node") {
		t.Errorf("join on a control-plane node: %v", err)
	}
	worker := t.TempDir()
	writeFile(t, filepath.Join(worker, layout.JoinRecord), "node: w1\n")
	if _, err := PrepareInit(&bytes.Buffer{}, worker, initCfg(t, nil), preflight.NewIgnoreSet()); !errors.As(err, &re) {
		t.Errorf("init on a joined worker: %v", err)
	}
	// A control plane that joined looks like an unfinished init (manifests,
	// admin.conf) but must not be "resumed" into a cluster of its own.
	cp := t.TempDir()
	writeFile(t, filepath.Join(cp, layout.JoinRecord), "node: cp-2\n")
	writeFile(t, filepath.Join(cp, layout.AdminConf), "x")
	writeFile(t, filepath.Join(cp, layout.ManifestsSubdir, "kube-apiserver.yaml"), "x")
	if _, err := PrepareInit(&bytes.Buffer{}, cp, initCfg(t, nil), preflight.NewIgnoreSet()); !errors.As(err, &re) ||
		!strings.Contains(err.Error(), "joined a cluster as a control plane") {
		t.Errorf("init on a joined control plane: %v", err)
	}
}

// Every control-plane join phase run alone on a fresh node does its work or
// names what it needs first.
func TestEveryControlPlaneJoinPhaseRunsAlone(t *testing.T) {
	shortTimeouts(t)
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
		"control-plane-join":                    "run `kubestrap join phase control-plane-prepare/kubeconfig` first",
		"control-plane-join/etcd":               "run `kubestrap join phase control-plane-prepare/kubeconfig` first",
		"control-plane-join/wait-control-plane": needCerts,
		"control-plane-join/mark-control-plane": "run `kubestrap join phase control-plane-prepare/kubeconfig` first",
	}
	r := &Runner{Command: "join", Phases: JoinPhases()}
	for _, path := range r.Paths() {
		t.Run(path, func(t *testing.T) {
			f := newJoinFixture(t)
			f.cluster.ControlPlaneEndpoint = "192.168.56.9:6443"
			b, _ := yaml.Marshal(f.cluster)
			cm, _ := f.client.CoreV1().ConfigMaps("kube-system").Get(context.Background(), controlplane.ClusterConfigMap, metav1.GetOptions{})
			cm.Data[controlplane.ConfigMapKey] = string(b)
			_, _ = f.client.CoreV1().ConfigMaps("kube-system").Update(context.Background(), cm, metav1.UpdateOptions{})
			cfg := joinCfg(t)
			cfg.ControlPlane = &config.JoinControlPlane{CertificateKey: strings.Repeat("ab", 32),
				LocalAPIEndpoint: config.APIEndpoint{BindPort: 6443}}
			d, err := NewJoinData(cfg, JoinOptions{Out: &bytes.Buffer{}, Env: fakeHost(t), Systemd: &systemdtest.Fake{},
				AgentBinary: fakeAgent(t), Ignore: preflight.NewIgnoreSet("all"), NodeIP: "192.168.56.12",
				BootstrapClient: f.client, Discover: func(context.Context) (*join.ClusterInfo, error) { return f.info, nil }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = runAlone(t, r, path, d)
			checkOutcome(t, path, want[path], err)
		})
	}
}

// upload-certs alone makes a key: it is kept in a 0600 file and printed in
// no phase line (Ansible and CI keep those).
func TestUploadCertsKeepsANewKeyOutOfTheLog(t *testing.T) {
	env := fakeHost(t)
	client := fake.NewSimpleClientset()
	cfg := initCfg(t, func(c *config.Init) { c.UploadCerts, c.Cluster.ControlPlaneEndpoint = true, "192.168.56.9:6443" })
	out := &bytes.Buffer{}
	d, err := NewInitData(cfg, InitOptions{Out: out, Env: env, Client: client, Systemd: &systemdtest.Fake{},
		AgentBinary: fakeAgent(t), Ignore: preflight.NewIgnoreSet("all")})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Command: "init", Phases: InitPhases(), Out: out}
	for _, p := range []string{"certs", "upload-certs"} {
		if err := r.RunPhase(context.Background(), p, d); err != nil {
			t.Fatalf("%s: %v\n%s", p, err, out)
		}
	}
	key, err := os.ReadFile(env.Root.Path(CertificateKeyFile))
	if err != nil || len(strings.TrimSpace(string(key))) != 64 {
		t.Fatalf("kept key: %q, %v", key, err)
	}
	if st, _ := os.Stat(env.Root.Path(CertificateKeyFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	if strings.Contains(out.String(), strings.TrimSpace(string(key))) || !strings.Contains(out.String(), CertificateKeyFile) {
		t.Errorf("output:\n%s", out)
	}
}
