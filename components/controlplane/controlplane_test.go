package controlplane

import (
	"context"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubestrap/kubestrap/config"
)

// A ClusterConfiguration as kubeadm v1.35 stores it in kubeadm-config.
const kubeadmClusterConfiguration = `apiServer: {}
apiVersion: kubeadm.k8s.io/v1beta4
caCertificateValidityPeriod: 87600h0m0s
certificateValidityPeriod: 8760h0m0s
certificatesDir: /etc/kubernetes/pki
clusterName: kubernetes
controlPlaneEndpoint: lb.example:6443
controllerManager:
  extraArgs:
  - name: bind-address
    value: 0.0.0.0
dns: {}
encryptionAlgorithm: RSA-2048
etcd:
  local:
    dataDir: /var/lib/etcd
imageRepository: registry.k8s.io
kind: ClusterConfiguration
kubernetesVersion: v1.35.4
networking:
  dnsDomain: cluster.example
  podSubnet: 10.32.0.0/16
  serviceSubnet: 10.96.0.0/12
proxy: {}
scheduler: {}
`

func configMap(name, data string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
		Data: map[string]string{ConfigMapKey: data}}
}

func TestDownloadConfigReadsKubeadmsWhenKubestrapsIsMissing(t *testing.T) {
	ctx := context.Background()
	c := fake.NewSimpleClientset(configMap(KubeadmConfigMap, kubeadmClusterConfiguration))
	got, err := DownloadConfig(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if got.KubernetesVersion != "v1.35.4" || got.Networking.PodSubnet != "10.32.0.0/16" ||
		got.Networking.DNSDomain != "cluster.example" || got.ControlPlaneEndpoint != "lb.example:6443" ||
		len(got.ControllerManager.ExtraArgs) != 1 || got.ControllerManager.ExtraArgs[0].Value != "0.0.0.0" {
		t.Errorf("kubeadm's ClusterConfiguration read as %+v", got)
	}
	if got.Networking.PodNetwork == "" {
		t.Errorf("kubestrap's defaults were not set: %+v", got.Networking)
	}
}

func TestDownloadConfigPrefersKubestraps(t *testing.T) {
	c := fake.NewSimpleClientset(configMap(KubeadmConfigMap, kubeadmClusterConfiguration),
		configMap(ClusterConfigMap, "apiVersion: kubestrap.io/v1alpha1\nkind: ClusterConfiguration\nkubernetesVersion: v1.35.1\n"))
	got, err := DownloadConfig(context.Background(), c)
	if err != nil || got.KubernetesVersion != "v1.35.1" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestDownloadConfigNamesBothWhenNeitherExists(t *testing.T) {
	_, err := DownloadConfig(context.Background(), fake.NewSimpleClientset())
	if err == nil || !strings.Contains(err.Error(), ClusterConfigMap) || !strings.Contains(err.Error(), KubeadmConfigMap) {
		t.Fatalf("error %v", err)
	}
}

func TestUploadConfigStoresKubeadmsConfigToo(t *testing.T) {
	ctx := context.Background()
	c := fake.NewSimpleClientset()
	cluster := &config.ClusterConfiguration{KubernetesVersion: "v1.35.4", ControlPlaneEndpoint: "lb:6443",
		Networking: config.Networking{PodSubnet: "10.244.0.0/16", PodNetwork: "flannel"}}
	if err := UploadConfig(ctx, c, cluster, []byte("kind: KubeletConfiguration\n")); err != nil {
		t.Fatal(err)
	}
	cm, err := c.CoreV1().ConfigMaps("kube-system").Get(ctx, KubeadmConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	doc := cm.Data[ConfigMapKey]
	for _, want := range []string{"apiVersion: kubeadm.k8s.io/v1beta4", "kind: ClusterConfiguration",
		"kubernetesVersion: v1.35.4", "controlPlaneEndpoint: lb:6443", "podSubnet: 10.244.0.0/16"} {
		if !strings.Contains(doc, want) {
			t.Errorf("kubeadm-config lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "podNetwork") {
		t.Errorf("kubestrap's own field leaked into kubeadm's document:\n%s", doc)
	}
	// What kubeadm join reads with a bootstrap token, kubeadm's RBAC allows.
	role, err := c.RbacV1().Roles("kube-system").Get(ctx, configReaders, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{KubeadmConfigMap, KubeletConfigMap, KubeProxyConfigMap} {
		if !slices.Contains(role.Rules[0].ResourceNames, name) {
			t.Errorf("bootstrap tokens may not get %s: %v", name, role.Rules[0].ResourceNames)
		}
	}
	// The round trip: a kubestrap join reading kubeadm's copy gets the same cluster.
	_ = c.CoreV1().ConfigMaps("kube-system").Delete(ctx, ClusterConfigMap, metav1.DeleteOptions{})
	back, err := DownloadConfig(ctx, c)
	if err != nil || back.ControlPlaneEndpoint != "lb:6443" || back.Networking.PodSubnet != "10.244.0.0/16" {
		t.Errorf("read back %+v, %v", back, err)
	}
}

// kubeadm's copy carries no kubestrap field, but a kubeadm control-plane
// join must still point its API server at the encryption keys.
func TestKubeadmCopyKeepsEncryption(t *testing.T) {
	c := &config.Init{}
	config.SetInitDefaults(c)
	b, err := KubeadmClusterConfiguration(&c.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "secretsEncryption") || strings.Contains(s, "audit:") ||
		!strings.Contains(s, "value: /etc/kubernetes/pki/encryption-config.yaml") {
		t.Errorf("kubeadm's copy:\n%s", s)
	}
	if len(c.Cluster.APIServer.ExtraArgs) != 0 {
		t.Errorf("the copy changed the cluster's own extraArgs: %v", c.Cluster.APIServer.ExtraArgs)
	}
}

func TestBindUser(t *testing.T) {
	c := fake.NewSimpleClientset()
	ctx := context.Background()
	got, err := BindUser(ctx, c, "alice", "view", "team-a")
	if err != nil || got != "RoleBinding/team-a/kubestrap:user:alice:view" {
		t.Fatalf("%q, %v", got, err)
	}
	if _, err := c.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace not created: %v", err)
	}
	rb, err := c.RbacV1().RoleBindings("team-a").Get(ctx, "kubestrap:user:alice:view", metav1.GetOptions{})
	if err != nil || rb.RoleRef.Name != "view" || rb.Subjects[0].Name != "alice" || rb.Subjects[0].Kind != "User" {
		t.Fatalf("binding %+v, %v", rb, err)
	}
	if _, err := BindUser(ctx, c, "alice", "view", "team-a"); err != nil {
		t.Errorf("a re-run: %v", err)
	}
	if got, err := BindUser(ctx, c, "ops", "admin", ""); err != nil || got != "ClusterRoleBinding/kubestrap:user:ops:admin" {
		t.Errorf("cluster-wide: %q, %v", got, err)
	}
	before := len(c.Actions())
	if _, err := BindUser(ctx, c, "eve", "cluster-admin", ""); err == nil || len(c.Actions()) != before {
		t.Errorf("cluster-admin was bound or the cluster was asked: %v", err)
	}
}

func TestAdminAllowedAsksTheAPIServer(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		c := fake.NewSimpleClientset()
		var asked *authorizationv1.ResourceAttributes
		c.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
			asked = r.Spec.ResourceAttributes
			r.Status.Allowed = allowed
			return true, r, nil
		})
		ok, err := AdminAllowed(context.Background(), c)
		if ok != allowed || (err == nil) != allowed || asked == nil || asked.Namespace != "kube-system" || asked.Verb != "create" {
			t.Errorf("allowed %v: got %v, %v (asked %+v)", allowed, ok, err, asked)
		}
	}
}
