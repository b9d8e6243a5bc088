package renew

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/staticpods"
)

const year = 365 * 24 * time.Hour

// node is a control-plane node's /etc/kubernetes in a temp dir, made by
// init's own code with one-hour leaf certificates (certificateValidityPeriod: 1h).
type node struct {
	kubeDir, certDir string
	waited           [][]string
}

func newNode(t *testing.T) *node {
	t.Helper()
	c := &config.Init{}
	c.NodeRegistration.Name = "cp-1"
	c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	c.Cluster.EncryptionAlgorithm = "ECDSA-P256"
	config.SetInitDefaults(c)
	c.Cluster.CertificateValidityPeriod.Duration = time.Hour
	n := &node{kubeDir: t.TempDir()}
	n.certDir = filepath.Join(n.kubeDir, layout.PKISubdir)
	p := certs.New(c, n.certDir)
	if _, err := p.EnsureAll(certs.Tree(c)); err != nil {
		t.Fatal(err)
	}
	for _, k := range certs.Kubeconfigs(c) {
		if _, err := p.EnsureKubeconfig(n.kubeDir, k, c.Cluster.ClusterName); err != nil {
			t.Fatal(err)
		}
	}
	pods, err := staticpods.All(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods {
		if _, _, err := staticpods.Write(filepath.Join(n.kubeDir, layout.ManifestsSubdir), pod); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func (n *node) opts(within time.Duration, dryRun bool) Options {
	return Options{CertDir: n.certDir, KubeDir: n.kubeDir, Validity: year, Within: within, DryRun: dryRun,
		Out: &bytes.Buffer{}, Now: time.Now,
		Wait: func(_ context.Context, components []string, _ time.Time) error {
			n.waited = append(n.waited, components)
			return nil
		}}
}

func (n *node) run(t *testing.T, o Options, names ...string) *Report {
	t.Helper()
	targets, err := Select(names)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), targets, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, o.Out)
	}
	return rep
}

// manifests returns every manifest's content by component.
func (n *node) manifests(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range staticpods.Components() {
		b, err := os.ReadFile(filepath.Join(n.kubeDir, layout.ManifestsSubdir, c+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		out[c] = string(b)
	}
	return out
}

func actions(rep *Report) map[string]string {
	out := map[string]string{}
	for _, c := range rep.Certificates {
		out[c.Name] = c.Action
	}
	return out
}

func TestTargetsAreKubeadmsNames(t *testing.T) {
	var names []string
	for _, t := range Targets() {
		names = append(names, t.Name)
	}
	want := []string{"apiserver", "apiserver-kubelet-client", "front-proxy-client", "etcd-server", "etcd-peer",
		"etcd-healthcheck-client", "apiserver-etcd-client", "admin.conf", "super-admin.conf", "controller-manager.conf",
		"scheduler.conf"}
	if !slices.Equal(names, want) {
		t.Errorf("targets %v\nwant    %v", names, want)
	}
	if _, err := Select([]string{"apiserver", "kubelet.conf", "nope"}); err == nil ||
		!strings.Contains(err.Error(), "kubelet.conf, nope") {
		t.Errorf("unknown names: %v", err)
	}
	if got, _ := Select([]string{"scheduler.conf", "apiserver"}); len(got) != 2 || got[0].Name != "apiserver" {
		t.Errorf("select two: %v", got)
	}
}

func TestRenewAllWithinTheWindowRestartsEveryComponent(t *testing.T) {
	n := newNode(t)
	before := n.manifests(t)
	rep := n.run(t, n.opts(2*time.Hour, false), All)
	for name, a := range actions(rep) {
		if a != Renewed {
			t.Errorf("%s: %s", name, a)
		}
	}
	for _, c := range rep.Certificates {
		if time.Until(c.NotAfter) < year-time.Hour || time.Until(c.OldNotAfter) > time.Hour {
			t.Errorf("%s: %s -> %s", c.Name, c.OldNotAfter, c.NotAfter)
		}
	}
	want := []string{staticpods.Etcd, staticpods.KubeAPIServer, staticpods.ControllerManager, staticpods.Scheduler}
	if !slices.Equal(rep.Restarted, want) || len(n.waited) != 1 || !slices.Equal(n.waited[0], want) {
		t.Errorf("restarted %v, waited for %v", rep.Restarted, n.waited)
	}
	after := n.manifests(t)
	for _, c := range want {
		if after[c] == before[c] || !strings.Contains(after[c], staticpods.AnnotationRestartedAt) {
			t.Errorf("%s manifest not marked for restart:\n%s", c, after[c])
		}
	}
	// Everything is renewed now: a second run within 2h renews nothing.
	rep = n.run(t, n.opts(2*time.Hour, false), All)
	for name, a := range actions(rep) {
		if a != Skipped {
			t.Errorf("second run: %s %s", name, a)
		}
	}
	if len(rep.Restarted) != 0 || len(n.waited) != 1 {
		t.Errorf("second run restarted %v", rep.Restarted)
	}
}

func TestRenewRestartsOnlyTheComponentsThatUseTheCertificate(t *testing.T) {
	tests := []struct {
		names   []string
		restart []string
	}{
		{[]string{"apiserver"}, []string{staticpods.KubeAPIServer}},
		{[]string{"front-proxy-client", "apiserver-etcd-client"}, []string{staticpods.KubeAPIServer}},
		{[]string{"etcd-peer"}, []string{staticpods.Etcd}},
		{[]string{"scheduler.conf"}, []string{staticpods.Scheduler}},
		{[]string{"controller-manager.conf", "etcd-server"}, []string{staticpods.Etcd, staticpods.ControllerManager}},
		{[]string{"admin.conf", "super-admin.conf", "etcd-healthcheck-client"}, nil},
	}
	n := newNode(t)
	for _, tc := range tests {
		t.Run(strings.Join(tc.names, ","), func(t *testing.T) {
			before := n.manifests(t)
			waits := len(n.waited)
			rep := n.run(t, n.opts(0, false), tc.names...)
			after := n.manifests(t)
			for _, c := range staticpods.Components() {
				if changed := after[c] != before[c]; changed != slices.Contains(tc.restart, c) {
					t.Errorf("%s manifest changed: %v", c, changed)
				}
			}
			if !slices.Equal(rep.Restarted, append([]string{}, tc.restart...)) {
				t.Errorf("restarted %v, want %v", rep.Restarted, tc.restart)
			}
			if waited := len(n.waited) > waits; waited != (len(tc.restart) > 0) {
				t.Errorf("waited: %v", waited)
			}
		})
	}
}

func TestExpiringWithinRenewsOnlyTheShortLived(t *testing.T) {
	n := newNode(t)
	n.run(t, n.opts(0, false), "apiserver", "admin.conf") // now valid for a year
	rep := n.run(t, n.opts(2*time.Hour, false), All)
	for name, a := range actions(rep) {
		want := Renewed
		if name == "apiserver" || name == "admin.conf" {
			want = Skipped
		}
		if a != want {
			t.Errorf("%s: %s, want %s", name, a, want)
		}
	}
	i := slices.IndexFunc(rep.Certificates, func(c Cert) bool { return c.Name == "apiserver" })
	if r := rep.Certificates[i].Reason; !strings.Contains(r, "not within 2h") {
		t.Errorf("reason %q", r)
	}
	// The API server's own certificate was skipped, but the clients it
	// uses were renewed: it restarts all the same.
	if !slices.Contains(rep.Restarted, staticpods.KubeAPIServer) {
		t.Errorf("restarted %v", rep.Restarted)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	n := newNode(t)
	snap := snapshot(t, n.kubeDir)
	o := n.opts(2*time.Hour, true)
	rep := n.run(t, o, All)
	if snapshot(t, n.kubeDir) != snap || len(n.waited) != 0 {
		t.Error("a dry run changed files or waited")
	}
	if a := actions(rep); a["apiserver"] != WouldRenew || len(rep.Restarted) != 4 || !rep.DryRun {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(o.Out.(*bytes.Buffer).String(), "would restart etcd, kube-apiserver") {
		t.Errorf("output:\n%s", o.Out)
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			b.WriteString(p + "\n" + string(data))
		}
		return nil
	})
	return b.String()
}

func TestMissingCertificatesAreSkippedAndAWorkerRefused(t *testing.T) {
	n := newNode(t)
	if err := os.Remove(filepath.Join(n.kubeDir, layout.SuperAdminConf)); err != nil {
		t.Fatal(err)
	}
	rep := n.run(t, n.opts(0, false), "super-admin.conf", "admin.conf")
	if c := rep.Certificates[1]; c.Action != Skipped || c.Reason != "not on this node" {
		t.Errorf("missing super-admin.conf: %+v", c)
	}
	worker := t.TempDir()
	_, err := Run(context.Background(), Targets(), Options{CertDir: filepath.Join(worker, "pki"), KubeDir: worker,
		Out: &bytes.Buffer{}, Now: time.Now})
	if !errors.Is(err, ErrNotControlPlane) {
		t.Errorf("worker: %v", err)
	}
}

func TestAFailureDoesNotStopTheOthers(t *testing.T) {
	n := newNode(t)
	if err := os.WriteFile(filepath.Join(n.certDir, "front-proxy-client.crt"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	targets, _ := Select([]string{"front-proxy-client", "scheduler.conf"})
	rep, err := Run(context.Background(), targets, n.opts(0, false))
	if err == nil || !strings.Contains(err.Error(), "front-proxy-client") {
		t.Errorf("err = %v", err)
	}
	if a := actions(rep); a["front-proxy-client"] != Failed || a["scheduler.conf"] != Renewed ||
		!slices.Equal(rep.Restarted, []string{staticpods.Scheduler}) {
		t.Errorf("report %+v", rep)
	}
}

func TestRestartProbesWaitForTheNewContainerFirst(t *testing.T) {
	n := newNode(t)
	notYet := errors.New("not restarted yet")
	probes, err := restartProbes(n.certDir, filepath.Join(n.kubeDir, layout.ManifestsSubdir),
		[]string{staticpods.Etcd, staticpods.Scheduler}, func(context.Context, string) error { return notYet })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range probes {
		names = append(names, p.Name)
		if err := p.Check(context.Background()); !errors.Is(err, notYet) {
			t.Errorf("%s: checked health before the restart: %v", p.Name, err)
		}
	}
	if !slices.Equal(names, []string{staticpods.Etcd, staticpods.Scheduler}) {
		t.Errorf("probes %v", names)
	}
}
