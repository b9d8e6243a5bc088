package kubelet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubestrap/kubestrap/poll"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key}
}

// sign plays kube-controller-manager: it signs the CSR's public key with
// the subject the CSR asks for, valid for ttl.
func (ca testCA) sign(t *testing.T, csrPEM []byte, ttl time.Duration) []byte {
	t.Helper()
	block, _ := pem.Decode(csrPEM)
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: req.Subject, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(ttl), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, req.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// approvingClient is a fake API server whose controller approves and
// signs every CSR right after it is created, as kcm does for tokens.
func approvingClient(t *testing.T, ca testCA, ttl time.Duration, deny bool) *fake.Clientset {
	c := fake.NewSimpleClientset()
	c.PrependReactor("create", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		csr := a.(k8stesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest)
		csr.Name, csr.UID = "csr-test", types.UID("uid-1")
		if got := csr.Spec.SignerName; got != certificatesv1.KubeAPIServerClientKubeletSignerName {
			t.Errorf("signer %s", got)
		}
		cond := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved,
			Status: corev1.ConditionTrue}
		if deny {
			cond.Type = certificatesv1.CertificateDenied
		} else {
			csr.Status.Certificate = ca.sign(t, csr.Spec.Request, ttl)
		}
		csr.Status.Conditions = append(csr.Status.Conditions, cond)
		return false, nil, nil // the tracker stores the signed object
	})
	return c
}

func TestBootstrapClientCertWritesTheKubeletsPair(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name, err := BootstrapClientCert(ctx, approvingClient(t, ca, time.Hour, false), "w1", dir, poll.Spec{Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if name != "csr-test" {
		t.Errorf("CSR name %q", name)
	}
	current := filepath.Join(dir, "kubelet-client-current.pem")
	if target, err := os.Readlink(current); err != nil || !strings.HasPrefix(filepath.Base(target), "kubelet-client-") {
		t.Errorf("kubelet-client-current.pem should link to a dated pair, as the kubelet's store keeps it: %q %v", target, err)
	}
	data, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "PRIVATE KEY") || !strings.Contains(string(data), "CERTIFICATE") {
		t.Errorf("the pair must hold the certificate and its key:\n%s", data)
	}
	if fi, _ := os.Stat(current); fi.Mode().Perm() != 0o600 {
		t.Errorf("pair mode %v, want 0600", fi.Mode().Perm())
	}
	if err := ValidClientCert(current, "w1", ca.cert, time.Now()); err != nil {
		t.Errorf("the new pair is not valid: %v", err)
	}
	if err := ValidClientCert(current, "w2", ca.cert, time.Now()); err == nil || !strings.Contains(err.Error(), "system:node:w1") {
		t.Errorf("another node's pair accepted: %v", err)
	}
	if err := ValidClientCert(current, "w1", newTestCA(t).cert, time.Now()); err == nil {
		t.Error("a pair of another cluster's CA accepted")
	}
	if err := ValidClientCert(current, "w1", ca.cert, time.Now().Add(2*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired pair accepted: %v", err)
	}
}

func TestBootstrapClientCertDeniedNamesTheCSR(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	_, err := BootstrapClientCert(ctx, approvingClient(t, newTestCA(t), time.Hour, true), "w1", dir, poll.Spec{Interval: 10 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "csr-test") || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("a denied CSR: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a denied CSR left files: %v", entries)
	}
}

// Right after init the controller manager signs late: the wait says what
// it waits for instead of staying silent.
func TestBootstrapClientCertReportsASlowSigner(t *testing.T) {
	ca := newTestCA(t)
	c := fake.NewSimpleClientset()
	c.PrependReactor("create", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		csr := a.(k8stesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest)
		csr.Name, csr.UID = "csr-late", types.UID("uid-2")
		return false, nil, nil
	})
	go func() {
		time.Sleep(300 * time.Millisecond)
		csrs := c.CertificatesV1().CertificateSigningRequests()
		csr, err := csrs.Get(context.Background(), "csr-late", metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		csr.Status.Certificate = ca.sign(t, csr.Spec.Request, time.Hour)
		csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{
			{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
		if _, err := csrs.UpdateStatus(context.Background(), csr, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	}()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := poll.Spec{Interval: 10 * time.Millisecond, Progress: 100 * time.Millisecond, Out: &out, Prefix: "tls-bootstrap"}
	if _, err := BootstrapClientCert(ctx, c, "w1", t.TempDir(), s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "[tls-bootstrap] still waiting for the controller manager to approve and sign "+
		"certificate signing request csr-late") {
		t.Errorf("no progress line while the CSR waited:\n%s", out.String())
	}
}
