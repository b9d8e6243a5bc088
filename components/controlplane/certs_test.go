package controlplane

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
)

// testPKI generates a control-plane PKI (ECDSA, the fast algorithm).
func testPKI(t *testing.T) string {
	t.Helper()
	c, err := config.LoadInit("", func(c *config.Init) {
		c.NodeRegistration.Name = "cp-1"
		c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
		c.Cluster.EncryptionAlgorithm = "ECDSA-P256"
	})
	if err != nil {
		t.Fatal(err)
	}
	p := certs.New(c, filepath.Join(t.TempDir(), "pki"))
	if _, err := p.EnsureAll(certs.Tree(c)); err != nil {
		t.Fatal(err)
	}
	return p.Dir
}

func testKey(t *testing.T) string {
	t.Helper()
	k, err := certs.NewCertificateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestUploadCerts(t *testing.T) {
	ctx := context.Background()
	c := fake.NewSimpleClientset()
	src, key := testPKI(t), testKey(t)
	now := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	id, err := UploadCerts(ctx, c, src, key, now)
	if err != nil {
		t.Fatal(err)
	}
	secrets := c.CoreV1().Secrets("kube-system")
	tok, err := secrets.Get(ctx, "bootstrap-token-"+id, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// kubeadm's owner token: a 2 h expiry and no usages or groups.
	want := map[string]string{"token-id": id, "expiration": "2026-11-22T06:00:00Z",
		"description": "Proxy for managing TTL for the kubeadm-certs secret"}
	for k, v := range want {
		if string(tok.Data[k]) != v {
			t.Errorf("token %s = %q, want %q", k, tok.Data[k], v)
		}
	}
	if tok.Type != "bootstrap.kubernetes.io/token" || len(tok.Data) != 4 {
		t.Errorf("token secret: type %q, data keys %v", tok.Type, tok.Data)
	}
	s, err := secrets.Get(ctx, CertsSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refs := s.OwnerReferences
	if len(refs) != 1 || refs[0].APIVersion != "v1" || refs[0].Kind != "Secret" || refs[0].Name != tok.Name ||
		refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("owner references: %+v", refs)
	}
	if len(s.Data) != 8 || s.Type != "Opaque" {
		t.Errorf("secret: type %q, %d entries", s.Type, len(s.Data))
	}
	checkCertsRBAC(t, c)
}

func checkCertsRBAC(t *testing.T, c *fake.Clientset) {
	t.Helper()
	ctx := context.Background()
	role, err := c.RbacV1().Roles("kube-system").Get(ctx, "kubeadm:kubeadm-certs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := role.Rules
	if len(r) != 1 || !slices.Equal(r[0].Verbs, []string{"get"}) || !slices.Equal(r[0].ResourceNames, []string{CertsSecret}) ||
		!slices.Equal(r[0].Resources, []string{"secrets"}) {
		t.Errorf("role rules: %+v", r)
	}
	rb, err := c.RbacV1().RoleBindings("kube-system").Get(ctx, "kubeadm:kubeadm-certs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, s := range rb.Subjects {
		groups = append(groups, s.Kind+"/"+s.Name)
	}
	wantGroups := []string{"Group/system:bootstrappers:kubeadm:default-node-token", "Group/" + config.DefaultNodeTokenGroup}
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name || !slices.Equal(groups, wantGroups) {
		t.Errorf("role binding: %+v %v", rb.RoleRef, groups)
	}
}

func TestDownloadCerts(t *testing.T) {
	ctx := context.Background()
	c := fake.NewSimpleClientset()
	src, key := testPKI(t), testKey(t)
	if _, err := UploadCerts(ctx, c, src, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "pki")
	paths, err := DownloadCerts(ctx, c, key, dst)
	if err != nil || len(paths) != 8 {
		t.Fatalf("download: %v %v", paths, err)
	}
	for _, f := range []string{"ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.pub", "sa.key", "etcd/ca.crt", "etcd/ca.key"} {
		want, _ := os.ReadFile(filepath.Join(src, f))
		if got, err := os.ReadFile(filepath.Join(dst, f)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v", f, err)
		}
	}
	// A new upload replaces the Secret: the old key no longer works.
	id, err := UploadCerts(ctx, c, src, testKey(t), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DownloadCerts(ctx, c, key, t.TempDir()); !errors.Is(err, certs.ErrWrongCertificateKey) {
		t.Errorf("old key after a new upload: %v", err)
	}
	s, _ := c.CoreV1().Secrets("kube-system").Get(ctx, CertsSecret, metav1.GetOptions{})
	if s.OwnerReferences[0].Name != "bootstrap-token-"+id {
		t.Errorf("owner after a new upload: %+v", s.OwnerReferences)
	}
}

func TestDownloadCertsExpired(t *testing.T) {
	_, err := DownloadCerts(context.Background(), fake.NewSimpleClientset(), testKey(t), t.TempDir())
	if !errors.Is(err, ErrCertsExpired) {
		t.Fatalf("missing secret: %v", err)
	}
	if _, err := DownloadCerts(context.Background(), fake.NewSimpleClientset(), "nope", t.TempDir()); err == nil ||
		errors.Is(err, ErrCertsExpired) {
		t.Errorf("malformed key: %v", err)
	}
}
