package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"archive/tar"
	"compress/gzip"

	"github.com/kubestrap/kubestrap/config"
)

// fakeCluster simulates the hosts up drives: files, what kubestrap
// reports, and the cluster those hosts form. Every command a host ran is
// logged so that tests can assert on order and on what did not run.
type fakeCluster struct {
	mu          sync.Mutex
	hosts       map[string]*fakeMachine
	initialized bool
	tokenValid  bool
	tokens      int
	uploadedKey string
	cpJoins     int
	log         []string
	scripts     []string // every script run, with its host
	// interrupt, when a step's name starts with it, cancels the run there
	// as Ctrl-C would: cancel is called and the step fails.
	interrupt string
	cancel    context.CancelFunc
	// undeadlined names the removals run without a deadline of their own.
	undeadlined []string
	// initTokenExpires is when init's token expires (RFC3339).
	initTokenExpires string
	// unreachable hosts fail to dial; failInit hosts fail `kubestrap init`.
	unreachable, failInit map[string]bool
	// hang, when a step's name starts with it, makes the step hang until
	// its context ends, as a stuck remote command does.
	hang string
	// detached names the steps run detached from the SSH session.
	detached []string
	// release is the Kubernetes version of the release up installs; a
	// node's kubelet takes it at its init or join.
	release string
}

const (
	initRecordPath = "/etc/kubernetes/kubestrap-init.yaml"
	joinRecordPath = "/etc/kubernetes/kubestrap-join.yaml"
	manifestPath   = "/etc/kubernetes/manifests/kube-apiserver.yaml"
)

type fakeMachine struct {
	c         *fakeCluster
	id        string
	files     map[string][]byte
	installed bool
	fixed     bool
	// kubelet is the version the node's kubelet runs once it is a node.
	kubelet string
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{hosts: map[string]*fakeMachine{}, unreachable: map[string]bool{}, failInit: map[string]bool{}}
}

func (fc *fakeCluster) dial(_ context.Context, h Host, _ bool) (Machine, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.unreachable[h.ID()] {
		return nil, &UnreachableError{Host: h.ID(), Addr: h.Address + ":22", Err: errors.New("i/o timeout")}
	}
	if m, ok := fc.hosts[h.ID()]; ok {
		return m, nil
	}
	m := &fakeMachine{c: fc, id: h.ID(), files: map[string][]byte{}}
	fc.hosts[h.ID()] = m
	return m, nil
}

func (m *fakeMachine) Close() error { return nil }

func (m *fakeMachine) Run(ctx context.Context, name, script string, stdin io.Reader) ([]byte, error) {
	if m.c.hang != "" && strings.HasPrefix(name, m.c.hang) {
		<-ctx.Done()
		return nil, fmt.Errorf("%s: %w", name, ctx.Err())
	}
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err) // as sshMachine: nothing runs
	}
	m.c.log = append(m.c.log, m.id+" "+name)
	m.c.scripts = append(m.c.scripts, m.id+" "+script)
	if cmd, ok := strings.CutPrefix(script, "# "); ok {
		// A detached command: its first line is the command itself.
		script, _, _ = strings.Cut(cmd, "\n")
		m.c.detached = append(m.c.detached, name)
	}
	f := strings.Fields(script)
	if _, ok := ctx.Deadline(); !ok && f[0] == "rm" {
		m.c.undeadlined = append(m.c.undeadlined, name)
	}
	if m.c.interrupt != "" && strings.HasPrefix(name, m.c.interrupt) {
		return nil, m.interrupted(name, f, stdin)
	}
	switch {
	case strings.HasPrefix(name, "sha256 of "):
		p := strings.TrimPrefix(name, "sha256 of ")
		if d, ok := m.files[p]; ok && strings.Contains(script, fmt.Sprintf(" = %d ", len(d))) {
			return m.files[p+".sha256"], nil
		}
		return nil, nil
	case strings.HasPrefix(name, "check "):
		p := strings.TrimPrefix(name, "check ")
		s := sha256.Sum256(m.files[p])
		m.files[p+".sha256"] = []byte(hex.EncodeToString(s[:]) + "\n")
		return nil, nil
	case f[0] == "sha256sum":
		p := strings.Trim(f[1], "'")
		if d, ok := m.files[p]; ok {
			s := sha256.Sum256(d)
			return []byte(hex.EncodeToString(s[:]) + "  " + p + "\n"), nil
		}
		return nil, nil
	case f[0] == "umask":
		data, _ := io.ReadAll(stdin)
		m.files[strings.TrimPrefix(name, "write ")] = data
		return nil, nil
	case name == "probe":
		return m.probe(), nil
	case name == "probe install":
		if m.installed {
			return []byte("installed\n"), nil
		}
		return nil, nil
	case name == "install":
		changed := !m.installed
		m.installed = true
		return jsonOut(map[string]any{"changed": changed})
	case f[0] == kubestrapPath:
		return m.kubestrap(f[1:])
	case f[0] == "rm":
		for _, p := range f[2:] {
			p = strings.ReplaceAll(p, "'", "")
			for k := range m.files {
				if k == p || (strings.HasSuffix(p, "*") && strings.HasPrefix(k, strings.TrimSuffix(p, "*"))) {
					delete(m.files, k)
				}
			}
		}
		return nil, nil
	case f[0] == "test" && strings.Contains(script, "rm -rf"):
		return m.removeTree(strings.Trim(f[3], "'")), nil
	case strings.Contains(script, "kubectl"):
		return nil, nil
	case f[0] == "cat":
		return []byte("admin kubeconfig"), nil
	}
	return nil, fmt.Errorf("fake host: unexpected script %q", script)
}

// interrupted cancels the run in the middle of a step: a write leaves its
// temporary file behind, as `cat >tmp` killed half-way does.
func (m *fakeMachine) interrupted(name string, f []string, stdin io.Reader) error {
	m.c.cancel()
	if f[0] == "umask" {
		data, _ := io.ReadAll(stdin)
		m.files[strings.TrimPrefix(name, "write ")+".tmp"] = data
	}
	return fmt.Errorf("%s: %w", name, context.Canceled)
}

// probe answers as the probe script would from the host's files.
func (m *fakeMachine) probe() []byte {
	out := ""
	if rec, ok := m.files[initRecordPath]; ok {
		out += "init-record\n"
		if strings.Contains("\n"+string(rec), "\nuploadCerts: true\n") {
			out += "upload-certs\n"
		}
	}
	if _, ok := m.files[joinRecordPath]; ok {
		out += "join-record\n"
	}
	if _, ok := m.files[manifestPath]; ok {
		out += "manifest\n"
	}
	if out != "" && m.kubelet != "" {
		out += "kubelet " + m.kubelet + "\nnode " + m.id + "\n"
	}
	return []byte(out)
}

func (m *fakeMachine) removeTree(dir string) []byte {
	removed := false
	for p := range m.files {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			delete(m.files, p)
			removed = true
		}
	}
	if removed {
		return []byte("removed\n")
	}
	return nil
}

// flagValue is the argument after flag, or "".
func flagValue(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// configKey is the certificateKey of a config file on the host.
func (m *fakeMachine) configKey(path string) string {
	for _, l := range strings.Split(string(m.files[path]), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(l), "certificateKey: "); ok {
			return k
		}
	}
	return ""
}

func jsonOut(v map[string]any) ([]byte, error) { return json.Marshal(v) }

func (m *fakeMachine) kubestrap(args []string) ([]byte, error) {
	for i := range args {
		args[i] = strings.Trim(args[i], "'")
	}
	info := map[string]any{"endpoint": "10.0.0.1:6443", "caCertHashes": []string{"sha256:abc"}}
	switch strings.Join(args[:2], " ") {
	case "preflight --fix":
		changed := !m.fixed
		m.fixed = true
		return jsonOut(map[string]any{"changed": changed, "fixes": []any{}})
	case "init --config":
		return m.init(info)
	case "token list":
		return m.c.tokenList()
	case "reset -o":
		changed := len(m.files) > 0
		for _, p := range []string{initRecordPath, joinRecordPath, manifestPath} {
			delete(m.files, p)
		}
		return jsonOut(map[string]any{"changed": changed})
	case "token create":
		m.c.tokens++
		info["changed"], info["token"] = true, "ghijkl.0123456789abcdef"
		return jsonOut(info)
	case "init phase":
		m.c.uploadedKey = flagValue(args, "--certificate-key")
		if f := flagValue(args, "--config"); f != "" && m.configKey(f) != "" {
			m.c.uploadedKey = m.configKey(f)
		}
		return nil, nil
	case "upgrade apply", "upgrade node":
		to := m.c.release
		if args[1] == "apply" {
			to = args[2]
		}
		changed := m.kubelet != to
		m.kubelet = to
		return jsonOut(map[string]any{"changed": changed, "to": to, "from": "v1.34.4"})
	case "join --config":
		cfg := string(m.files[upDir+"/join.yaml"])
		if !strings.Contains(cfg, "token: ") {
			return nil, &CommandError{Command: "kubestrap join", Status: 2, Stderr: "no token"}
		}
		if strings.Contains(cfg, "controlPlane:") {
			if m.c.uploadedKey == "" || !strings.Contains(cfg, "certificateKey: "+m.c.uploadedKey) {
				return nil, &CommandError{Command: "kubestrap join", Status: 1, Stderr: "certificates not uploaded under this key"}
			}
			m.c.cpJoins++
			m.files[manifestPath] = nil
		}
		m.files[joinRecordPath] = nil
		m.kubelet = m.c.release
		return jsonOut(map[string]any{"changed": true})
	}
	return nil, fmt.Errorf("fake kubestrap: unexpected %v", args)
}

// init is kubestrap init: a fresh one records its config and prints its
// token with the expiry; a re-run prints the token without it, and refuses
// a config other than the recorded one.
func (m *fakeMachine) init(info map[string]any) ([]byte, error) {
	if m.c.failInit[m.id] {
		return nil, &CommandError{Command: "kubestrap init", Status: 1, Stderr: "the API server does not answer"}
	}
	cfg := m.files[upDir+"/init.yaml"]
	rec, done := m.files[initRecordPath]
	if done && string(rec) != string(cfg) {
		return nil, &CommandError{Command: "kubestrap init", Status: 1, Stderr: "this node was initialized with another configuration"}
	}
	if !done {
		m.c.initialized, m.c.tokenValid = true, true
		m.c.initTokenExpires = time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		m.files[initRecordPath] = cfg
		m.kubelet = m.c.release
		m.files[manifestPath] = nil
		info["tokenExpires"] = m.c.initTokenExpires
	}
	info["changed"] = !done
	if m.c.tokenValid {
		info["token"] = "abcdef.0123456789abcdef"
	}
	return jsonOut(info)
}

// tokenList is `token list -o json`: ids and expiry, never secrets.
func (fc *fakeCluster) tokenList() ([]byte, error) {
	list := []map[string]any{}
	if fc.tokenValid {
		list = append(list, map[string]any{"id": "abcdef", "expires": fc.initTokenExpires})
	}
	if fc.tokens > 0 {
		list = append(list, map[string]any{"id": "ghijkl", "expires": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	}
	return json.Marshal(map[string]any{"changed": false, "tokens": list})
}

func (fc *fakeCluster) ran(prefix string) []string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var out []string
	for _, l := range fc.log {
		if strings.Contains(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func writeRelease(t *testing.T, dir string, kubernetesVersion ...string) string {
	t.Helper()
	p := filepath.Join(dir, "kubestrap-v1-linux-amd64.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "kubestrap-v1-linux-amd64/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, v := range kubernetesVersion {
		_ = tw.WriteHeader(&tar.Header{Name: "kubestrap-v1-linux-amd64/kubernetes-version", Mode: 0o644, Size: int64(len(v) + 1)})
		_, _ = tw.Write([]byte(v + "\n"))
	}
	_ = tw.Close()
	_ = gz.Close()
	_ = f.Close()
	return p
}

func testCluster(t *testing.T, workers int) *Cluster {
	t.Helper()
	c := &Cluster{}
	c.Metadata.Name = "t"
	c.Spec.Release = writeRelease(t, t.TempDir())
	c.Spec.PreflightFix = true
	c.Spec.Hosts = []Host{{Address: "10.0.0.1", Role: RoleControlPlane}}
	for i := 0; i < workers; i++ {
		c.Spec.Hosts = append(c.Spec.Hosts, Host{Address: fmt.Sprintf("10.0.0.%d", i+2), Role: RoleWorker})
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUpThenNoChangeThenOnlyTheNewHost(t *testing.T) {
	fc := newFakeCluster()
	kubeconfig := filepath.Join(t.TempDir(), "admin.conf")
	opts := Options{Dial: fc.dial, Kubeconfig: kubeconfig}
	ctx := context.Background()

	c := testCluster(t, 2)
	rep, err := Up(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Changed || rep.Endpoint != "10.0.0.1:6443" {
		t.Fatalf("first up: %+v", rep)
	}
	if got := fc.ran("kubestrap join"); len(got) != 2 {
		t.Errorf("joins %v, want one per worker", got)
	}
	if fc.tokens != 0 {
		t.Errorf("a token was made although init's was valid")
	}
	if st, err := os.Stat(kubeconfig); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig: %v %v", st, err)
	}
	for _, m := range fc.hosts {
		if _, left := m.files[upDir+"/join.yaml"]; left {
			t.Errorf("%s: the join config (it holds the token) was left on the host", m.id)
		}
	}

	fc.log = nil
	rep, err = Up(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed {
		t.Errorf("second up changed: %+v", rep)
	}
	if got := fc.ran("kubestrap join"); len(got) != 0 {
		t.Errorf("second up joined: %v", got)
	}
	if got := fc.ran("write "); len(got) != 0 {
		t.Errorf("second up wrote files: %v", got)
	}

	fc.log, fc.tokenValid = nil, false // a day later: init's token expired
	c = testCluster(t, 3)
	rep, err = Up(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := fc.ran("kubestrap join"); len(got) != 1 || !strings.HasPrefix(got[0], "10.0.0.4 ") {
		t.Errorf("joins %v, want only the new host 10.0.0.4", got)
	}
	if fc.tokens != 1 {
		t.Errorf("%d tokens made for the new host, want 1", fc.tokens)
	}
	for _, h := range rep.Hosts {
		if h.Changed != (h.Address == "10.0.0.4" || h.Address == "10.0.0.1") {
			t.Errorf("%s changed=%v (%+v)", h.Address, h.Changed, h.Steps)
		}
	}
}

func TestUpRefusesARoleChange(t *testing.T) {
	fc := newFakeCluster()
	ctx := context.Background()
	c := testCluster(t, 1)
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	c.Spec.Hosts[1].Role = RoleControlPlane
	c.Spec.Cluster = nil
	_, err := Up(ctx, c, Options{Dial: fc.dial})
	if err == nil || !strings.Contains(err.Error(), "is a worker in the cluster, but the file says role: control-plane") {
		t.Fatalf("role change: %v", err)
	}
}

func TestDownResetsWorkersFirstAndTheInitHostLast(t *testing.T) {
	fc := newFakeCluster()
	ctx := context.Background()
	c := testCluster(t, 2)
	c.Spec.Hosts = append(c.Spec.Hosts, Host{Address: "10.0.0.9", Role: RoleWorker, SSH: c.Spec.Hosts[0].SSH})
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	fc.hosts["10.0.0.9"].installed = false // a host that never got kubestrap
	fc.log = nil
	rep, err := Down(ctx, c, Options{Dial: fc.dial})
	if err != nil {
		t.Fatal(err)
	}
	resets := fc.ran("kubestrap reset")
	if len(resets) != 3 || !strings.HasPrefix(resets[2], "10.0.0.1 ") {
		t.Fatalf("resets %v: want both workers, then the control plane", resets)
	}
	if !rep.Changed || rep.Hosts[3].Changed {
		t.Errorf("report: %+v", rep)
	}
}

func TestUpJoinsControlPlanesWithCertificatesUploadedUnderAFreshKey(t *testing.T) {
	fc := newFakeCluster()
	ctx := context.Background()
	c := testCluster(t, 1)
	c.Spec.Hosts = append(c.Spec.Hosts, Host{Address: "10.0.0.7", Role: RoleControlPlane, SSH: c.Spec.Hosts[0].SSH, NodeIP: "10.0.0.7"})
	c.Spec.Cluster = &config.ClusterConfiguration{ControlPlaneEndpoint: "10.0.0.100:6443"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	if fc.cpJoins != 1 || len(fc.uploadedKey) != 64 {
		t.Fatalf("control-plane joins %d, uploaded key %q", fc.cpJoins, fc.uploadedKey)
	}
	initCfg := string(fc.hosts["10.0.0.1"].files[upDir+"/init.yaml"])
	if !strings.Contains(initCfg, "uploadCerts: true") || !strings.Contains(initCfg, "controlPlaneEndpoint: 10.0.0.100:6443") {
		t.Errorf("init config of an HA cluster:\n%s", initCfg)
	}
	for _, l := range fc.log {
		if strings.Contains(l, fc.uploadedKey) {
			t.Errorf("the certificate key appears in a step name: %s", l)
		}
	}
	fc.log = nil
	rep, err := Up(ctx, c, Options{Dial: fc.dial})
	if err != nil || rep.Changed || fc.cpJoins != 1 {
		t.Errorf("second up: changed=%v joins=%d err=%v", rep.Changed, fc.cpJoins, err)
	}
}
