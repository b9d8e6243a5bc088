package tokens

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	"k8s.io/cluster-bootstrap/token/jws"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/poll"
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
		if err := Create(ctx, c, tok, now); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-abcdef", metav1.GetOptions{})
	if err != nil || s.Type != "bootstrap.kubernetes.io/token" || string(s.Data["expiration"]) != "2026-11-22T05:00:00Z" ||
		string(s.Data["auth-extra-groups"]) != config.DefaultNodeTokenGroup {
		t.Fatalf("secret %+v %v", s, err)
	}
	info, _ := c.CoreV1().ConfigMaps("kube-public").Get(ctx, InfoConfigMap, metav1.GetOptions{})
	if info.Data["abcdef"] != "2026-11-22T05:00:00Z" || info.Data["ghijkl"] != "never" {
		t.Errorf("token info %v", info.Data)
	}
	for _, d := range info.Data {
		if strings.Contains(d, "0123456789abcdef") {
			t.Fatal("a token secret leaked into the public token info")
		}
	}
	// List uses a field selector the fake clientset ignores, which is fine here.
	list, err := List(ctx, c)
	if err != nil || len(list) != 2 || list[0].ID != "abcdef" || strings.Join(list[0].Usages, ",") != "authentication,signing" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := Delete(ctx, c, "abcdef"); err != nil {
		t.Fatal(err)
	}
	if err := Delete(ctx, c, "abcdef"); err == nil || !strings.Contains(err.Error(), "no token abcdef") {
		t.Errorf("second delete: %v", err)
	}
	info, _ = c.CoreV1().ConfigMaps("kube-public").Get(ctx, InfoConfigMap, metav1.GetOptions{})
	if _, ok := info.Data["abcdef"]; ok {
		t.Error("deleted token still listed in token info")
	}
	if err := Delete(ctx, c, "NOPE"); err == nil {
		t.Error("bad id accepted")
	}
}

func TestClusterObjectsAreIdempotent(t *testing.T) {
	c := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
	for i := 0; i < 2; i++ { // the second round is a re-run: it must converge
		if err := controlplane.EnsureClusterAdmins(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := BootstrapRBAC(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := controlplane.UploadConfig(ctx, c, &config.ClusterConfiguration{KubernetesVersion: "v1.35.4"}, []byte("kind: KubeletConfiguration\n")); err != nil {
			t.Fatal(err)
		}
		if err := controlplane.Mark(ctx, c, "cp-1", controlplane.Taints(config.NodeRegistrationOptions{}), poll.Spec{Interval: 10 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		if err := ClusterInfo(ctx, c, "https://192.168.56.10:6443", []byte("ca")); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := c.CoreV1().Nodes().Get(ctx, "cp-1", metav1.GetOptions{})
	if _, ok := n.Labels[controlplane.Label]; !ok || len(n.Spec.Taints) != 1 {
		t.Errorf("node %v %v", n.Labels, n.Spec.Taints)
	}
	crb, err := c.RbacV1().ClusterRoleBindings().Get(ctx, controlplane.ClusterAdminsBinding, metav1.GetOptions{})
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
	if got := controlplane.Taints(config.NodeRegistrationOptions{Taints: []config.Taint{}}); len(got) != 0 {
		t.Errorf("empty taint list gave %v", got)
	}
}

func TestSignClusterInfoAsTheBootstrapSignerWould(t *testing.T) {
	ctx := context.Background()
	c := fake.NewSimpleClientset()
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	if err := ClusterInfo(ctx, c, "https://10.0.0.1:6443", ca); err != nil {
		t.Fatal(err)
	}
	toks := []config.BootstrapToken{
		{Token: "abcdef.0123456789abcdef", Usages: []string{"signing", "authentication"}},
		{Token: "ghijkl.0123456789abcdef", Usages: []string{"authentication"}},
	}
	if err := SignClusterInfo(ctx, c, toks); err != nil {
		t.Fatal(err)
	}
	cm, _ := c.CoreV1().ConfigMaps("kube-public").Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
	sig := cm.Data[bootstrapapi.JWSSignatureKeyPrefix+"abcdef"]
	if !jws.DetachedTokenIsValid(sig, cm.Data[bootstrapapi.KubeConfigKey], "abcdef", "0123456789abcdef") {
		t.Errorf("signature %q does not verify as a joining node checks it", sig)
	}
	if _, ok := cm.Data[bootstrapapi.JWSSignatureKeyPrefix+"ghijkl"]; ok {
		t.Errorf("a token without the signing usage was signed for (the signer would remove it)")
	}
	c.ClearActions()
	if err := SignClusterInfo(ctx, c, toks); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Actions() {
		if a.GetVerb() == "update" {
			t.Errorf("a second signing rewrote cluster-info")
		}
	}
}
