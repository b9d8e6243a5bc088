package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/resetflow"
)

// run executes kubestrap in-process with TMPDIR pointed at a fresh dir,
// returning stdout, stderr, the exit code and the TMPDIR.
func run(t *testing.T, args ...string) (string, string, int, string) {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errOut bytes.Buffer
	err := execute(context.Background(), args, &out, &errOut)
	if err != nil {
		errOut.WriteString("error: " + err.Error())
	}
	return out.String(), errOut.String(), exitCode(err), tmp
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && p != dir {
			out = append(out, p)
		}
		return nil
	})
	return out
}

var nodeFlags = []string{"--node-name", "cp-1", "--apiserver-advertise-address", "192.168.56.10"}

func TestInvalidConfigFilesExitTwoAndWriteNothing(t *testing.T) {
	files, err := filepath.Glob("../../config/testdata/invalid/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("want at least 10 invalid configs, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			certDir := t.TempDir()
			args := []string{"init", "--dry-run", "--config", f, "--cert-dir", certDir, "--node-name", "cp-1"}
			_, stderr, code, tmp := run(t, args...)
			if code != exitInvalid {
				t.Errorf("exit code %d, want %d; stderr %s", code, exitInvalid, stderr)
			}
			if strings.Count(stderr, "error:") != 1 {
				t.Errorf("want one clear error, got %q", stderr)
			}
			if left := append(entries(t, tmp), entries(t, certDir)...); len(left) != 0 {
				t.Errorf("invalid input wrote %v", left)
			}
		})
	}
}

func TestDryRunProducesTree(t *testing.T) {
	out, stderr, code, tmp := run(t, append([]string{"init", "--dry-run"}, nodeFlags...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	last := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	dir, ok := strings.CutPrefix(last, "dry-run output: ")
	if !ok || !strings.HasPrefix(dir, tmp) {
		t.Fatalf("last line %q does not name a dir in TMPDIR %s", last, tmp)
	}
	for _, f := range []string{"pki/ca.crt", "pki/etcd/ca.key", "pki/sa.pub", "admin.conf", "super-admin.conf",
		"kubelet.conf", "controller-manager.conf", "scheduler.conf", "manifests/etcd.yaml",
		"manifests/kube-apiserver.yaml", "manifests/kube-controller-manager.yaml", "manifests/kube-scheduler.yaml",
		"var/lib/kubelet/config.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("dry-run tree lacks %s", f)
		}
	}
	for _, phase := range []string{"[certs]", "[kubeconfig]", "[control-plane]", "[addons] dry-run: would install CoreDNS", "[init] done"} {
		if !strings.Contains(out, phase) {
			t.Errorf("output lacks %q", phase)
		}
	}
}

func TestPhaseSubcommandsAndSkip(t *testing.T) {
	out, stderr, code, _ := run(t, append([]string{"init", "phase", "certs", "ca", "--dry-run"}, nodeFlags...)...)
	if code != exitOK || !strings.Contains(out, "[certs/ca] generated") {
		t.Errorf("phase certs ca: exit %d\n%s%s", code, out, stderr)
	}
	out, _, code, _ = run(t, append([]string{"init", "phase", "control-plane/scheduler", "--dry-run"}, nodeFlags...)...)
	if code != exitOK || !strings.Contains(out, "kube-scheduler.yaml") || strings.Contains(out, "kube-apiserver.yaml") {
		t.Errorf("phase control-plane/scheduler: exit %d\n%s", code, out)
	}
	_, stderr, code, _ = run(t, append([]string{"init", "--dry-run", "--skip-phases", "addonz"}, nodeFlags...)...)
	if code == exitOK || !strings.Contains(stderr, "unknown phase(s) in --skip-phases: addonz") {
		t.Errorf("bad skip: exit %d %s", code, stderr)
	}
	out, _, code, _ = run(t, append([]string{"init", "--dry-run", "--skip-phases", "addons/kube-proxy,preflight"}, nodeFlags...)...)
	if code != exitOK || !strings.Contains(out, "[addons/kube-proxy] skipped") || strings.Contains(out, "[preflight] ") &&
		!strings.Contains(out, "[preflight] skipped") {
		t.Errorf("skip: exit %d\n%s", code, out)
	}
	// kubeadm's names, as its playbooks spell them.
	out, _, code, _ = run(t, append([]string{"init", "--dry-run", "--skip-phases", "addon/kube-proxy"}, nodeFlags...)...)
	if code != exitOK || !strings.Contains(out, "[addons/kube-proxy] skipped") {
		t.Errorf("kubeadm's addon/kube-proxy skip: exit %d\n%s", code, out)
	}
	out, stderr, code, _ = run(t, append([]string{"init", "phase", "certs", "all", "--dry-run"}, nodeFlags...)...)
	if code != exitOK || !strings.Contains(out, "[certs] 11 generated") {
		t.Errorf("kubeadm's certs all: exit %d\n%s%s", code, out, stderr)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	tests := [][]string{
		{"init", "--no-such-flag"},
		append([]string{"init", "--dry-run", "--ignore-preflight-errors", "Swapp"}, nodeFlags...),
		append([]string{"init", "--dry-run", "--pod-network-cidr", "10.96.0.0/16"}, nodeFlags...),
		{"images", "list", "--kubernetes-version", "v1.30.0"},
	}
	for _, args := range tests {
		if _, stderr, code, _ := run(t, args...); code != exitInvalid {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitInvalid, stderr)
		}
	}
}

func TestPrintDefaultsDecode(t *testing.T) {
	for _, which := range []string{"init-defaults", "join-defaults"} {
		out, stderr, code, _ := run(t, "config", "print", which)
		if code != 0 {
			t.Fatalf("%s: %s", which, stderr)
		}
		docs, err := config.Decode([]byte(out))
		if err != nil {
			t.Fatalf("%s output does not decode: %v\n%s", which, err, out)
		}
		if which == "init-defaults" && (docs.Cluster == nil || docs.Cluster.KubernetesVersion != config.DefaultKubernetesVersion) {
			t.Errorf("init defaults: %s", out)
		}
		if which == "join-defaults" && docs.Join == nil {
			t.Errorf("join defaults: %s", out)
		}
	}
}

func TestImagesVersionAndPreflightJSON(t *testing.T) {
	out, _, code, _ := run(t, "images", "list")
	if code != 0 || !strings.Contains(out, "registry.k8s.io/kube-apiserver:v1.35.4\n") || !strings.Contains(out, "etcd:3.6.6-0") {
		t.Errorf("images list: %s", out)
	}
	out, _, _, _ = run(t, "version", "-o", "json")
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["defaultKubernetesVersion"] != "v1.35.4" || v["changed"] != false {
		t.Errorf("version json %q %v", out, err)
	}
	out, _, code, _ = run(t, append([]string{"preflight", "-o", "json"}, nodeFlags...)...)
	var report struct {
		NodeName string `json:"nodeName"`
		Checks   []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || report.NodeName != "cp-1" || len(report.Checks) < 20 {
		t.Fatalf("preflight json (exit %d): %v\n%s", code, err, out)
	}
	failed := false
	for _, c := range report.Checks {
		failed = failed || c.Status == "error"
	}
	if failed != (code == exitPreflight) {
		t.Errorf("exit code %d does not match the report (any error: %v)", code, failed)
	}
}

func TestCertsCommands(t *testing.T) {
	out, _, code, _ := run(t, "certs", "list")
	if code != 0 || !strings.Contains(out, "apiserver-etcd-client") || !strings.Contains(out, "../admin.conf") {
		t.Errorf("certs list: %s", out)
	}
	out, _, _, _ = run(t, "certs", "certificate-key")
	if len(strings.TrimSpace(out)) != 64 {
		t.Errorf("certificate key %q", out)
	}
	out, _, _, _ = run(t, "token", "generate")
	if !strings.Contains(out, ".") || len(strings.TrimSpace(out)) != 23 {
		t.Errorf("token %q", out)
	}
	// check-expiration over a generated tree.
	dryOut, _, _, _ := run(t, append([]string{"init", "--dry-run", "--skip-phases", "preflight"}, nodeFlags...)...)
	dir := strings.TrimPrefix(strings.TrimSpace(dryOut[strings.LastIndex(strings.TrimSpace(dryOut), "\n")+1:]), "dry-run output: ")
	out, stderr, code, _ := run(t, "certs", "check-expiration", "--cert-dir", filepath.Join(dir, "pki"), "--kubeconfig-dir", dir, "-o", "json")
	var report struct {
		Changed      *bool `json:"changed"`
		Certificates []struct {
			Name     string `json:"name"`
			Residual string `json:"residual"`
			Missing  bool   `json:"missing"`
		} `json:"certificates"`
	}
	err := json.Unmarshal([]byte(out), &report)
	rows := report.Certificates
	if err != nil || code != 0 || len(rows) != 15 || report.Changed == nil || *report.Changed {
		t.Fatalf("check-expiration: %v %d %s %s", err, len(rows), out, stderr)
	}
	for _, r := range rows {
		if r.Missing || r.Residual == "" {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
}

// Short-lived certificates (certificateValidityPeriod: 1h, as in the lab)
// make check-expiration exit 1 until renewed; renew's input errors and a
// worker are refused with exit 2.
func TestCertsRenewAndCheckExpirationExitCodes(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "short.yaml")
	if err := os.WriteFile(cfg, []byte("apiVersion: kubestrap.io/v1alpha1\nkind: ClusterConfiguration\n"+
		"certificateValidityPeriod: 1h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dryOut, _, _, _ := run(t, append([]string{"init", "--dry-run", "--skip-phases", "preflight", "--config", cfg}, nodeFlags...)...)
	dir := strings.TrimPrefix(strings.TrimSpace(dryOut[strings.LastIndex(strings.TrimSpace(dryOut), "\n")+1:]), "dry-run output: ")
	dirs := []string{"--cert-dir", filepath.Join(dir, "pki"), "--kubeconfig-dir", dir}
	_, stderr, code, _ := run(t, append([]string{"certs", "check-expiration"}, dirs...)...)
	if code != exitError || !strings.Contains(stderr, "expire within 720h") || !strings.Contains(stderr, "apiserver (") {
		t.Errorf("check-expiration of 1h certificates: exit %d, %s", code, stderr)
	}
	if _, stderr, code, _ = run(t, append([]string{"certs", "check-expiration", "--warn-within", "30m"}, dirs...)...); code != exitOK {
		t.Errorf("--warn-within 30m: exit %d, %s", code, stderr)
	}
	out, stderr, code, _ := run(t, append([]string{"certs", "renew", "all", "--dry-run", "--validity", "8760h",
		"--expiring-within", "2h", "-o", "json"}, dirs...)...)
	var rep struct {
		DryRun       bool `json:"dryRun"`
		Certificates []struct {
			Name, Action string
		} `json:"certificates"`
		Restarted []string `json:"restarted"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || !rep.DryRun || len(rep.Certificates) != 11 ||
		len(rep.Restarted) != 4 || rep.Certificates[0].Action != "would-renew" {
		t.Errorf("renew --dry-run: exit %d, %v\n%s\n%s", code, err, out, stderr)
	}
	worker := t.TempDir()
	for _, args := range [][]string{{"certs", "renew"}, {"certs", "renew", "apiserver", "kubelet.conf"},
		{"certs", "renew", "all", "--validity", "10m"}, {"certs", "renew", "all", "-o", "yaml"},
		{"certs", "renew", "all", "--dry-run", "--validity", "1h", "--cert-dir", worker, "--kubeconfig-dir", worker}} {
		if _, stderr, code, _ := run(t, args...); code != exitInvalid {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
	}
}

// Bad reset input is refused before the lock is taken or the host is read;
// an etcd quorum refusal is a failure (exit 1) whose message names -f.
func TestResetInputAndExitCodes(t *testing.T) {
	for _, args := range [][]string{{"reset", "--skip-phases", "nope"}, {"reset", "-o", "yaml"}, {"reset", "phase", "nope"}} {
		if _, stderr, code, _ := run(t, args...); code != exitInvalid {
			t.Errorf("%v: exit %d, stderr %s", args, code, stderr)
		}
	}
	err := &phases.PhaseError{Path: "remove-etcd-member", Command: "reset", Err: &resetflow.EtcdRefusedError{Reason: "no quorum"}}
	if code := exitCode(err); code != exitError || !strings.Contains(err.Error(), "pass -f") {
		t.Errorf("quorum refusal: exit %d: %v", code, err)
	}
}

// `config validate --config FILE` is kubeadm's form; the argument form
// stays; both different files, or none, is a usage error (exit 2).
func TestConfigValidateTakesKubeadmsFlag(t *testing.T) {
	valid := filepath.Join(t.TempDir(), "init.yaml")
	doc := "apiVersion: " + config.APIVersion + "\nkind: ClusterConfiguration\nnetworking:\n  podSubnet: 10.244.0.0/16\n"
	if err := os.WriteFile(valid, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--config", valid}, {valid}, {"--config", valid, valid}} {
		out, stderr, code, _ := run(t, append([]string{"config", "validate"}, args...)...)
		if code != 0 || !strings.Contains(out+stderr, valid+": valid") {
			t.Errorf("config validate %v: exit %d, %q %q", args, code, out, stderr)
		}
	}
	for _, args := range [][]string{{}, {"--config", valid, "other.yaml"}} {
		_, stderr, code, _ := run(t, append([]string{"config", "validate"}, args...)...)
		if code != exitInvalid || !strings.Contains(stderr, "config validate:") {
			t.Errorf("config validate %v: exit %d, %q", args, code, stderr)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(doc+"typo: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code, _ := run(t, "config", "validate", "--config", bad); code != exitInvalid || !strings.Contains(stderr, "typo") {
		t.Errorf("an unknown field: exit %d, %q", code, stderr)
	}
}
