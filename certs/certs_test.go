package certs

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/helpers"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
)

func testConfig(t *testing.T, algo string) *config.Init {
	t.Helper()
	c := &config.Init{}
	c.NodeRegistration.Name = "cp-1"
	c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	c.Cluster.ControlPlaneEndpoint = "k8s.example.com:6443"
	c.Cluster.APIServer.CertSANs = []string{"10.0.2.15", "api.internal"}
	c.Cluster.EncryptionAlgorithm = algo
	config.SetInitDefaults(c)
	if err := config.ValidateInit(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// makeTree generates the whole PKI and the kubeconfigs into a temp dir.
func makeTree(t *testing.T, algo string) (*config.Init, *PKI, string) {
	t.Helper()
	c := testConfig(t, algo)
	kubeDir := t.TempDir()
	p := New(c, filepath.Join(kubeDir, "pki"))
	if _, err := p.EnsureAll(Tree(c)); err != nil {
		t.Fatal(err)
	}
	for _, k := range Kubeconfigs(c) {
		if _, err := p.EnsureKubeconfig(kubeDir, k, c.Cluster.ClusterName); err != nil {
			t.Fatal(err)
		}
	}
	return c, p, kubeDir
}

func TestTreeWithOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is required for this test: apt-get install openssl")
	}
	for _, algo := range []string{"ECDSA-P256", "RSA-2048"} {
		t.Run(algo, func(t *testing.T) {
			c, p, _ := makeTree(t, algo)
			for _, s := range Tree(c) {
				crt := p.CertPath(s.BaseName)
				ca := crt
				if !s.IsCA() {
					caSpec, _ := find(Tree(c), s.CA)
					ca = p.CertPath(caSpec.BaseName)
				}
				out, err := exec.Command("openssl", "verify", "-CAfile", ca, crt).CombinedOutput()
				if err != nil || !strings.Contains(string(out), ": OK") {
					t.Errorf("openssl verify %s: %v\n%s", s.Name, err, out)
				}
				checkText(t, s, crt)
				checkModes(t, p.KeyPath(s.BaseName), crt)
			}
		})
	}
}

func checkText(t *testing.T, s Spec, crt string) {
	t.Helper()
	out, err := exec.Command("openssl", "x509", "-noout", "-text", "-in", crt).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509 %s: %v\n%s", crt, err, out)
	}
	text := string(out)
	for _, h := range s.Hosts {
		prefix := "DNS:"
		if strings.Count(h, ".") == 3 || strings.Contains(h, ":") {
			prefix = "IP Address:"
		}
		want := prefix + h
		if h == "::1" {
			want = "IP Address:0:0:0:0:0:0:0:1"
		}
		if !strings.Contains(text, want) {
			t.Errorf("%s: SAN %s missing", s.Name, want)
		}
	}
	if !strings.Contains(text, "CN = "+s.CommonName) && !strings.Contains(text, "CN="+s.CommonName) {
		t.Errorf("%s: CN %s missing", s.Name, s.CommonName)
	}
	wantUsage := map[string]string{usageServer: "TLS Web Server Authentication", usageClient: "TLS Web Client Authentication",
		usageCertSign: "Certificate Sign"}
	for _, u := range s.Usages {
		if w, ok := wantUsage[u]; ok && !strings.Contains(text, w) {
			t.Errorf("%s: usage %q missing", s.Name, w)
		}
	}
	if s.IsCA() != strings.Contains(text, "CA:TRUE") {
		t.Errorf("%s: CA basic constraint wrong", s.Name)
	}
}

func checkModes(t *testing.T, key, crt string) {
	t.Helper()
	for path, want := range map[string]os.FileMode{key: KeyMode, crt: CertMode} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
}

func TestValidityAndBackdate(t *testing.T) {
	c, p, _ := makeTree(t, "ECDSA-P256")
	now := time.Now()
	for _, s := range Tree(c) {
		b, _ := os.ReadFile(p.CertPath(s.BaseName))
		crt, err := readCertPEM(b)
		if err != nil {
			t.Fatal(err)
		}
		want := config.DefaultCertValidity
		if s.IsCA() {
			want = config.DefaultCACertValidity
		}
		if d := crt.NotAfter.Sub(now); d < want-10*time.Minute || d > want+10*time.Minute {
			t.Errorf("%s: lifetime %v, want about %v", s.Name, d, want)
		}
		if !crt.NotBefore.Before(now.Add(-time.Minute)) {
			t.Errorf("%s: NotBefore %v is not backdated", s.Name, crt.NotBefore)
		}
	}
}

func readCertPEM(b []byte) (*x509.Certificate, error) { return helpers.ParseCertificatePEM(b) }

func TestRerunReusesEverything(t *testing.T) {
	c, p, kubeDir := makeTree(t, "ECDSA-P256")
	before := snapshot(t, kubeDir)
	res, err := p.EnsureAll(Tree(c))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != Reused {
			t.Errorf("%s: %s on re-run", r.Name, r.Action)
		}
	}
	for _, k := range Kubeconfigs(c) {
		if r, err := p.EnsureKubeconfig(kubeDir, k, c.Cluster.ClusterName); err != nil || r.Action != Reused {
			t.Errorf("%s: %v %v", k.File, r.Action, err)
		}
	}
	if after := snapshot(t, kubeDir); after != before {
		t.Error("files changed on re-run")
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestExistingCertMismatchIsAnError(t *testing.T) {
	c, p, kubeDir := makeTree(t, "ECDSA-P256")
	tests := []struct {
		name   string
		mutate func(*config.Init)
		spec   string
		want   string
	}{
		{"new SAN", func(c *config.Init) {
			c.Cluster.APIServer.CertSANs = append(c.Cluster.APIServer.CertSANs, "new.example.com")
		},
			"apiserver", "lacks the names new.example.com"},
		{"new advertise address", func(c *config.Init) { c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.11" },
			"etcd-server", "lacks the names 192.168.56.11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c2 := *c
			c2.Cluster.APIServer.CertSANs = append([]string(nil), c.Cluster.APIServer.CertSANs...)
			tt.mutate(&c2)
			spec, _ := find(Tree(&c2), tt.spec)
			before := snapshot(t, kubeDir)
			_, err := p.Ensure(spec, Tree(&c2))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p.CertPath(spec.BaseName)) {
				t.Errorf("got %v, want an error naming the file and %q", err, tt.want)
			}
			if snapshot(t, kubeDir) != before {
				t.Error("files changed after a refused re-run")
			}
		})
	}
}

func TestCertFromAnotherCAIsAnError(t *testing.T) {
	c, p, _ := makeTree(t, "ECDSA-P256")
	_, p2, _ := makeTree(t, "ECDSA-P256")
	// Replace the apiserver pair with one from another cluster.
	for _, ext := range []string{".crt", ".key"} {
		b, _ := os.ReadFile(filepath.Join(p2.Dir, "apiserver"+ext))
		if err := os.WriteFile(filepath.Join(p.Dir, "apiserver"+ext), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	spec, _ := find(Tree(c), "apiserver")
	if _, err := p.Ensure(spec, Tree(c)); err == nil || !strings.Contains(err.Error(), "not signed by the current ca CA") {
		t.Errorf("got %v", err)
	}
	res, err := p.EnsureAll(Tree(c))
	if err == nil {
		t.Fatal("EnsureAll accepted a foreign certificate")
	}
	if len(res) != len(Tree(c)) { // every other cert is still checked and reported
		t.Errorf("results %d, want %d", len(res), len(Tree(c)))
	}
}

func TestMissingKeyAndMismatchedKey(t *testing.T) {
	c, p, _ := makeTree(t, "ECDSA-P256")
	spec, _ := find(Tree(c), "front-proxy-client")
	other, _ := os.ReadFile(p.KeyPath("apiserver"))
	if err := os.WriteFile(p.KeyPath(spec.BaseName), other, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ensure(spec, Tree(c)); err == nil || !strings.Contains(err.Error(), "does not match its key") {
		t.Errorf("mismatched key: got %v", err)
	}
	if err := os.Remove(p.KeyPath(spec.BaseName)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ensure(spec, Tree(c)); err == nil || !strings.Contains(err.Error(), "its key") {
		t.Errorf("missing key: got %v", err)
	}
}

func TestExpiredCertIsAnError(t *testing.T) {
	c, p, _ := makeTree(t, "ECDSA-P256")
	p.Now = func() time.Time { return time.Now().Add(2 * 365 * 24 * time.Hour) }
	spec, _ := find(Tree(c), "apiserver")
	if _, err := p.Ensure(spec, Tree(c)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("got %v", err)
	}
}

func TestLeafWithoutCAExplainsOrder(t *testing.T) {
	c := testConfig(t, "ECDSA-P256")
	p := New(c, t.TempDir())
	spec, _ := find(Tree(c), "apiserver")
	_, err := p.Ensure(spec, Tree(c))
	if err == nil || !strings.Contains(err.Error(), "kubestrap init phase certs/ca") {
		t.Errorf("got %v", err)
	}
}

func TestKubeconfigsWithKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl is required for this test (it is at /usr/bin/kubectl on these machines)")
	}
	c, p, kubeDir := makeTree(t, "ECDSA-P256")
	ca, _, _ := p.LoadCA(caBase)
	for _, k := range Kubeconfigs(c) {
		path := filepath.Join(kubeDir, k.File)
		out, err := exec.Command(kubectl, "config", "view", "--kubeconfig", path, "--raw", "-o",
			"jsonpath={.clusters[0].cluster.server}").CombinedOutput()
		if err != nil || string(out) != k.Server {
			t.Errorf("%s: kubectl says %q (%v), want server %s", k.File, out, err, k.Server)
		}
		cert, err := ReadKubeconfigCert(path)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Subject.CommonName != k.CommonName || strings.Join(cert.Subject.Organization, ",") != strings.Join(k.Organization, ",") {
			t.Errorf("%s: subject %v", k.File, cert.Subject)
		}
		if err := cert.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s: not signed by the CA: %v", k.File, err)
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != KeyMode {
			t.Errorf("%s: mode %v", k.File, st.Mode().Perm())
		}
	}
}

func TestKubeconfigForAnotherServerIsAnError(t *testing.T) {
	c, p, kubeDir := makeTree(t, "ECDSA-P256")
	c.Cluster.ControlPlaneEndpoint = "other.example.com:6443"
	k := Kubeconfigs(c)[0]
	_, err := p.EnsureKubeconfig(kubeDir, k, c.Cluster.ClusterName)
	if err == nil || !strings.Contains(err.Error(), "points at https://k8s.example.com:6443") {
		t.Errorf("got %v", err)
	}
}

func TestPinMatchesOpenSSL(t *testing.T) {
	_, p, _ := makeTree(t, "RSA-2048")
	ca, _, err := p.LoadCA(caBase)
	if err != nil {
		t.Fatal(err)
	}
	// openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256
	pub, err := exec.Command("openssl", "x509", "-pubkey", "-noout", "-in", p.CertPath(caBase)).Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("openssl", "pkey", "-pubin", "-outform", "der")
	cmd.Stdin = bytes.NewReader(pub)
	der, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	want := "sha256:" + hex.EncodeToString(sum[:])
	if got := Pin(ca); got != want {
		t.Errorf("Pin = %s, openssl says %s", got, want)
	}
	other := "sha256:" + strings.Repeat("0", 64)
	if !MatchesAnyPin(ca, []string{other, want}) {
		t.Error("the second of two pins was not honoured")
	}
	if MatchesAnyPin(ca, []string{other}) {
		t.Error("a wrong pin matched")
	}
}

func TestCheckExpiration(t *testing.T) {
	c, p, kubeDir := makeTree(t, "ECDSA-P256")
	if err := os.Remove(filepath.Join(kubeDir, layout.SchedulerConf)); err != nil {
		t.Fatal(err)
	}
	rows := CheckExpiration(p.Dir, kubeDir, Tree(c), Kubeconfigs(c), time.Now())
	if len(rows) != len(Tree(c))+len(Kubeconfigs(c)) {
		t.Fatalf("rows = %d", len(rows))
	}
	for _, r := range rows {
		switch {
		case r.Name == layout.SchedulerConf:
			if !r.Missing {
				t.Errorf("deleted %s not reported missing", r.Name)
			}
		case r.Kind == "ca" && r.Residual != "9y" && r.Residual != "10y":
			t.Errorf("%s residual %s", r.Name, r.Residual)
		case r.Kind != "ca" && r.Residual != "364d" && r.Residual != "365d":
			t.Errorf("%s residual %s", r.Name, r.Residual)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	tests := map[time.Duration]string{-time.Second: "expired", 30 * time.Minute: "30m", 5 * time.Hour: "5h",
		3 * 24 * time.Hour: "3d", 3 * 365 * 24 * time.Hour: "3y"}
	for d, want := range tests {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %s, want %s", d, got, want)
		}
	}
}

func TestAPIServerHosts(t *testing.T) {
	c := testConfig(t, "ECDSA-P256")
	got := strings.Join(APIServerHosts(c), ",")
	want := "kubernetes,kubernetes.default,kubernetes.default.svc,kubernetes.default.svc.cluster.local,cp-1," +
		"10.96.0.1,192.168.56.10,k8s.example.com,10.0.2.15,api.internal"
	if got != want {
		t.Errorf("hosts\n got %s\nwant %s", got, want)
	}
}

// TestReadKubeconfigCertFromKubeletBundle reads kubelet.conf as it is after
// kubelet-finalize: pointing at the kubelet's rotated file, which holds the
// certificate and its key in one PEM bundle.
func TestReadKubeconfigCertFromKubeletBundle(t *testing.T) {
	_, _, kubeDir := makeTree(t, "ECDSA-P256")
	path := filepath.Join(kubeDir, layout.KubeletConf)
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	user := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
	bundle := filepath.Join(t.TempDir(), "kubelet-client-current.pem")
	if err := os.WriteFile(bundle, append(append([]byte{}, user.ClientCertificateData...), user.ClientKeyData...), 0o600); err != nil {
		t.Fatal(err)
	}
	user.ClientCertificateData, user.ClientKeyData = nil, nil
	user.ClientCertificate, user.ClientKey = bundle, bundle
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	cert, err := ReadKubeconfigCert(path)
	if err != nil || !strings.HasPrefix(cert.Subject.CommonName, "system:node:") {
		t.Fatalf("cert %v, err %v", cert, err)
	}
}
