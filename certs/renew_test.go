package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/layout"
)

// shortTree makes the PKI and kubeconfigs with one-hour leaf certificates,
// as `init --config` with certificateValidityPeriod: 1h does.
func shortTree(t *testing.T) (*PKI, string) {
	t.Helper()
	c := testConfig(t, "ECDSA-P256")
	c.Cluster.CertificateValidityPeriod.Duration = time.Hour
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
	p.Validity = 365 * 24 * time.Hour
	return p, kubeDir
}

func TestRenewCertKeepsWhatTheCertificateSays(t *testing.T) {
	p, _ := shortTree(t)
	c := testConfig(t, "ECDSA-P256")
	for _, s := range Tree(c) {
		if s.IsCA() {
			continue
		}
		caSpec, _ := find(Tree(c), s.CA)
		old, renewed, err := p.RenewCert(s.BaseName, caSpec.BaseName)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if !bytes.Equal(old.RawSubject, renewed.RawSubject) || !slices.Equal(old.DNSNames, renewed.DNSNames) ||
			!slices.EqualFunc(old.IPAddresses, renewed.IPAddresses, net.IP.Equal) {
			t.Errorf("%s: subject or SANs changed: %v %v %v -> %v %v %v", s.Name, old.Subject, old.DNSNames, old.IPAddresses,
				renewed.Subject, renewed.DNSNames, renewed.IPAddresses)
		}
		if old.KeyUsage != renewed.KeyUsage || !slices.Equal(old.ExtKeyUsage, renewed.ExtKeyUsage) {
			t.Errorf("%s: usages changed: %v %v -> %v %v", s.Name, old.KeyUsage, old.ExtKeyUsage, renewed.KeyUsage, renewed.ExtKeyUsage)
		}
		if old.SerialNumber.Cmp(renewed.SerialNumber) == 0 || samePublicKey(old.PublicKey, renewed.PublicKey) {
			t.Errorf("%s: serial or key not new", s.Name)
		}
		if left := time.Until(renewed.NotAfter); left < 364*24*time.Hour || time.Until(old.NotAfter) > time.Hour {
			t.Errorf("%s: NotAfter %s -> %s", s.Name, old.NotAfter, renewed.NotAfter)
		}
		onDisk, err := ReadCertFile(p.CertPath(s.BaseName))
		if err != nil || !onDisk.Equal(renewed) {
			t.Errorf("%s: the file does not hold the renewed certificate (%v)", s.Name, err)
		}
		checkModes(t, p.KeyPath(s.BaseName), p.CertPath(s.BaseName))
	}
	// The renewed tree is what init would accept: keys match, same CAs,
	// every name the configuration needs.
	if _, err := p.EnsureAll(Tree(c)); err != nil {
		t.Errorf("init's check refuses the renewed tree: %v", err)
	}
}

func TestRenewKubeconfigStaysValidAgainstTheCA(t *testing.T) {
	p, kubeDir := shortTree(t)
	path := filepath.Join(kubeDir, layout.AdminConf)
	before, _ := clientcmd.LoadFromFile(path)
	old, renewed, err := p.RenewKubeconfig(path, caBase)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Subject.CommonName != "kubernetes-admin" || !slices.Equal(renewed.Subject.Organization, []string{AdminGroup}) ||
		old.SerialNumber.Cmp(renewed.SerialNumber) == 0 {
		t.Errorf("renewed subject %v serial %v (was %v)", renewed.Subject, renewed.SerialNumber, old.SerialNumber)
	}
	ca, _, _ := p.LoadCA(caBase)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := renewed.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("renewed client certificate does not verify against the CA: %v", err)
	}
	after, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := currentUser(after, path)
	if _, err := tls.X509KeyPair(user.ClientCertificateData, user.ClientKeyData); err != nil {
		t.Errorf("kubeconfig's certificate and key do not match: %v", err)
	}
	ctx := after.Contexts[after.CurrentContext]
	if after.Clusters[ctx.Cluster].Server != before.Clusters[ctx.Cluster].Server {
		t.Error("server changed")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != KeyMode {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

func TestRenewRefusesACertificateOfAnotherCA(t *testing.T) {
	p, _ := shortTree(t)
	// etcd's CA did not sign the API server's certificate.
	if _, _, err := p.RenewCert("apiserver", etcdCABase); err == nil || !strings.Contains(err.Error(), "not signed by") {
		t.Errorf("err = %v", err)
	}
	if _, _, err := p.RenewCert("nothing-here", caBase); !os.IsNotExist(err) {
		t.Errorf("missing certificate: err = %v", err)
	}
}

func TestReissueNeverOutlivesItsCA(t *testing.T) {
	p, _ := shortTree(t)
	ca, caKey, _ := p.LoadCA(caBase)
	old, _ := ReadCertFile(p.CertPath("apiserver"))
	got, _, err := Reissue(old, ca, caKey, 100*365*24*time.Hour, time.Now())
	if err != nil || !got.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("NotAfter %v, CA %v (%v)", got.NotAfter, ca.NotAfter, err)
	}
	if _, _, err := Reissue(old, ca, caKey, time.Hour, ca.NotAfter.Add(time.Second)); err == nil ||
		!strings.Contains(err.Error(), "expired") {
		t.Errorf("expired CA: err = %v", err)
	}
}

func TestParseCertPEMFindsTheCertificateAmongOtherBlocks(t *testing.T) {
	p, _ := shortTree(t)
	crt, _ := os.ReadFile(p.CertPath("apiserver"))
	key, _ := os.ReadFile(p.KeyPath("apiserver"))
	want, _ := ReadCertFile(p.CertPath("apiserver"))
	for name, data := range map[string][]byte{"cert then key": append(crt, key...), "key then cert": append(key, crt...)} {
		got, err := ParseCertPEM(data)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParseCertPEM(key); err == nil {
		t.Error("a key alone parsed as a certificate")
	}
}

// kubeletClientCurrent writes what the kubelet writes after rotation: the
// certificate and its key in one file, which kubelet.conf names.
func kubeletClientCurrent(t *testing.T, p *PKI, kubeDir string) string {
	t.Helper()
	crt, _ := os.ReadFile(p.CertPath("apiserver-kubelet-client"))
	key, _ := os.ReadFile(p.KeyPath("apiserver-kubelet-client"))
	pemPath := filepath.Join(t.TempDir(), "kubelet-client-current.pem")
	if err := os.WriteFile(pemPath, append(crt, key...), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(kubeDir, layout.KubeletConf)
	kc, _ := clientcmd.LoadFromFile(path)
	user, _ := currentUser(kc, path)
	user.ClientCertificateData, user.ClientKeyData = nil, nil
	user.ClientCertificate, user.ClientKey = pemPath, pemPath
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return pemPath
}

func TestCheckExpirationReadsTheKubeletsRotatedCertificate(t *testing.T) {
	p, kubeDir := shortTree(t)
	pemPath := kubeletClientCurrent(t, p, kubeDir)
	c := testConfig(t, "ECDSA-P256")
	rows := CheckExpiration(p.Dir, kubeDir, Tree(c), Kubeconfigs(c), time.Now())
	i := slices.IndexFunc(rows, func(r Expiry) bool { return r.Name == layout.KubeletConf })
	if r := rows[i]; r.Error != "" || r.Missing || r.Renewal != KubeletManaged || r.File != pemPath || r.NotAfter.IsZero() {
		t.Errorf("kubelet row %+v", r)
	}
	for _, r := range rows {
		want := RenewedByKubestrap
		switch {
		case r.Kind == "ca":
			want = RenewedManually
		case r.Name == layout.KubeletConf:
			want = KubeletManaged
		}
		if r.Renewal != want {
			t.Errorf("%s: renewal %q, want %q", r.Name, r.Renewal, want)
		}
	}
}

func TestCheckWindow(t *testing.T) {
	p, kubeDir := shortTree(t)
	c := testConfig(t, "ECDSA-P256")
	rows := CheckExpiration(p.Dir, kubeDir, Tree(c), Kubeconfigs(c), time.Now())
	err := CheckWindow(rows, 30*24*time.Hour)
	ee, ok := err.(*ExpiringError)
	if !ok || len(ee.Rows) != len(rows)-3 { // the three CAs live ten years
		t.Fatalf("err = %v", err)
	}
	if err := CheckWindow(rows, 30*time.Minute); err != nil {
		t.Errorf("nothing expires within 30m, got %v", err)
	}
	// A CA that expires within the window counts too; missing files do not.
	ca := Expiry{Name: "ca", Kind: "ca", ResidualS: int64(24 * time.Hour / time.Second)}
	missing := Expiry{Name: "super-admin.conf", Missing: true}
	if err := CheckWindow([]Expiry{ca, missing}, 30*24*time.Hour); err == nil || !strings.Contains(err.Error(), "ca (") {
		t.Errorf("CA within the window: %v", err)
	}
	if err := CheckWindow([]Expiry{{Name: "x", Error: "garbage"}}, time.Hour); err == nil {
		t.Error("an unreadable certificate passed")
	}
}

// A kubeconfig whose certificate is a file is not kubestrap's to renew.
func TestRenewKubeconfigRefusesAReferencedCertificate(t *testing.T) {
	p, kubeDir := shortTree(t)
	kubeletClientCurrent(t, p, kubeDir)
	_, _, err := p.RenewKubeconfig(filepath.Join(kubeDir, layout.KubeletConf), caBase)
	if err == nil || !strings.Contains(err.Error(), "not embedded") {
		t.Errorf("err = %v", err)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{720 * time.Hour: "720h", 90 * time.Minute: "1h30m", 2 * time.Minute: "2m",
		90 * time.Second: "1m30s", time.Hour + time.Second: "1h0m1s"} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %s, want %s", d, got, want)
		}
	}
}
