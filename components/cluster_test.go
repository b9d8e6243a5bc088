package components

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
)

var ctx = context.Background()

func TestTokensLifecycle(t *testing.T) {
	c := fake.NewSimpleClientset()
	now := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	for _, tok := range []config.BootstrapToken{
		{Token: "abcdef.0123456789abcdef", TTL: &metav1.Duration{Duration: time.Hour}, Usages: config.DefaultTokenUsages,
			Groups: []string{config.DefaultNodeTokenGroup}, Description: "first"},
		{Token: "ghijkl.0123456789abcdef", TTL: &metav1.Duration{}, Usages: []string{"authentication"}},
	} {
		if err := CreateToken(ctx, c, tok, now); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-abcdef", metav1.GetOptions{})
	if err != nil || s.Type != "bootstrap.kubernetes.io/token" || string(s.Data["expiration"]) != "2026-11-22T05:00:00Z" ||
		string(s.Data["auth-extra-groups"]) != config.DefaultNodeTokenGroup {
		t.Fatalf("secret %+v %v", s, err)
	}
	info, _ := c.CoreV1().ConfigMaps("kube-public").Get(ctx, TokenInfoConfigMap, metav1.GetOptions{})
	if info.Data["abcdef"] != "2026-11-22T05:00:00Z" || info.Data["ghijkl"] != "never" {
		t.Errorf("token info %v", info.Data)
	}
	for _, d := range info.Data {
		if strings.Contains(d, "0123456789abcdef") {
			t.Fatal("a token secret leaked into the public token info")
		}
	}
	// ListTokens uses a field selector the fake clientset ignores, which is fine here.
	list, err := ListTokens(ctx, c)
	if err != nil || len(list) != 2 || list[0].ID != "abcdef" || strings.Join(list[0].Usages, ",") != "authentication,signing" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := DeleteToken(ctx, c, "abcdef"); err != nil {
		t.Fatal(err)
	}
	if err := DeleteToken(ctx, c, "abcdef"); err == nil || !strings.Contains(err.Error(), "no token abcdef") {
		t.Errorf("second delete: %v", err)
	}
	info, _ = c.CoreV1().ConfigMaps("kube-public").Get(ctx, TokenInfoConfigMap, metav1.GetOptions{})
	if _, ok := info.Data["abcdef"]; ok {
		t.Error("deleted token still listed in token info")
	}
	if err := DeleteToken(ctx, c, "NOPE"); err == nil {
		t.Error("bad id accepted")
	}
}

func TestClusterObjectsAreIdempotent(t *testing.T) {
	c := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
	for i := 0; i < 2; i++ { // the second round is a re-run: it must converge
		if err := EnsureClusterAdmins(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := BootstrapRBAC(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := UploadConfig(ctx, c, []byte("kubernetesVersion: v1.35.4\n"), []byte("kind: KubeletConfiguration\n")); err != nil {
			t.Fatal(err)
		}
		if err := MarkControlPlane(ctx, c, "cp-1", ControlPlaneTaints(config.NodeRegistrationOptions{})); err != nil {
			t.Fatal(err)
		}
		if err := ClusterInfo(ctx, c, "https://192.168.56.10:6443", []byte("ca")); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := c.CoreV1().Nodes().Get(ctx, "cp-1", metav1.GetOptions{})
	if _, ok := n.Labels[ControlPlaneLabel]; !ok || len(n.Spec.Taints) != 1 {
		t.Errorf("node %v %v", n.Labels, n.Spec.Taints)
	}
	crb, err := c.RbacV1().ClusterRoleBindings().Get(ctx, ClusterAdminsBinding, metav1.GetOptions{})
	if err != nil || crb.RoleRef.Name != "cluster-admin" || crb.Subjects[0].Name != certs.AdminGroup {
		t.Errorf("cluster-admins binding %+v %v", crb, err)
	}
	// A signature added by the bootstrapsigner survives a re-run.
	cm, _ := c.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	cm.Data["jws-kubeconfig-abcdef"] = "sig"
	_, _ = c.CoreV1().ConfigMaps("kube-public").Update(ctx, cm, metav1.UpdateOptions{})
	if err := ClusterInfo(ctx, c, "https://192.168.56.10:6443", []byte("ca")); err != nil {
		t.Fatal(err)
	}
	cm, _ = c.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	if cm.Data["jws-kubeconfig-abcdef"] != "sig" {
		t.Error("re-run dropped the cluster-info signature")
	}
	if got := ControlPlaneTaints(config.NodeRegistrationOptions{Taints: []config.Taint{}}); len(got) != 0 {
		t.Errorf("empty taint list gave %v", got)
	}
}

func TestFinalizeKubeletConfig(t *testing.T) {
	dir := t.TempDir()
	kc := certs.NewKubeconfig("kubernetes", "https://192.168.56.10:6443", "system:node:cp-1", []byte("ca"), []byte("cert"), []byte("key"))
	b, _ := clientcmd.Write(*kc)
	path := filepath.Join(dir, "kubelet.conf")
	_ = os.WriteFile(path, b, 0o600)
	current := filepath.Join(dir, "kubelet-client-current.pem")
	_ = os.WriteFile(current, []byte("pem"), 0o600)
	changed, err := FinalizeKubeletConfig(ctx, path, current)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	got, _ := clientcmd.LoadFromFile(path)
	a := got.AuthInfos["system:node:cp-1"]
	if a.ClientCertificate != current || a.ClientKey != current || len(a.ClientCertificateData) != 0 {
		t.Errorf("auth info %+v", a)
	}
	if changed, _ := FinalizeKubeletConfig(ctx, path, current); changed {
		t.Error("second finalize changed the file")
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := FinalizeKubeletConfig(tctx, path, filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing rotated certificate not reported")
	}
}

func TestCNIPlugins(t *testing.T) {
	bundle, bin := t.TempDir(), t.TempDir()
	for _, p := range CNIPlugins {
		_ = os.WriteFile(filepath.Join(bundle, p), []byte(p), 0o755)
	}
	_ = os.WriteFile(filepath.Join(bin, "bridge"), []byte("distro's"), 0o755)
	got, err := EnsureCNIPlugins(bin, bundle)
	if err != nil || strings.Join(got, ",") != "host-local,loopback,portmap" {
		t.Fatalf("installed %v %v", got, err)
	}
	if b, _ := os.ReadFile(filepath.Join(bin, "bridge")); string(b) != "distro's" {
		t.Error("an existing plugin was replaced")
	}
	if got, _ := EnsureCNIPlugins(bin, bundle); len(got) != 0 {
		t.Errorf("second run installed %v", got)
	}
}
