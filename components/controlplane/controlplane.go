// Package controlplane holds the cluster objects a control-plane node owns:
// the uploaded configuration and certificates, the control-plane label and
// taints, and the admins' binding.
package controlplane

import (
	"context"
	"fmt"
	"path"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/poll"
)

// ConfigMaps that upload-config writes and join reads.
const (
	ClusterConfigMap = "kubestrap-config"
	KubeletConfigMap = "kubelet-config"
	ConfigMapKey     = "ClusterConfiguration"
	KubeletKey       = "kubelet"
	configReaders    = "kubestrap:config-readers"
)

// Label and taint mark control-plane nodes, as in kubeadm.
const Label = "node-role.kubernetes.io/control-plane"

// UploadConfig stores the ClusterConfiguration and the kubelet config in
// kube-system, readable by joining nodes (bootstrap tokens) and nodes. The
// cluster's configuration is stored twice: as kubestrap's, and as kubeadm's
// own kubeadm-config, so that an unmodified `kubeadm join` can join (it also
// reads kubelet-config and the kube-proxy ConfigMap, which the same role
// lets tokens read, as kubeadm's RBAC does).
func UploadConfig(ctx context.Context, c kubernetes.Interface, cluster *config.ClusterConfiguration, kubelet []byte) error {
	own, err := yaml.Marshal(cluster)
	if err != nil {
		return err
	}
	kubeadm, err := KubeadmClusterConfiguration(cluster)
	if err != nil {
		return err
	}
	cms := c.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: configReaders, Namespace: metav1.NamespaceSystem},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"},
			ResourceNames: []string{ClusterConfigMap, KubeletConfigMap, KubeadmConfigMap, KubeProxyConfigMap}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: configReaders, Namespace: metav1.NamespaceSystem},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: configReaders},
		Subjects: []rbacv1.Subject{apply.Group(config.DefaultNodeTokenGroup), apply.Group("system:nodes")}}
	configMap := func(name, key string, data []byte) func() error {
		return func() error {
			return apply.CreateOrUpdate(ctx, cms, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name,
				Namespace: metav1.NamespaceSystem}, Data: map[string]string{key: string(data)}})
		}
	}
	return apply.Concurrently(
		configMap(ClusterConfigMap, ConfigMapKey, own),
		configMap(KubeadmConfigMap, ConfigMapKey, kubeadm),
		configMap(KubeletConfigMap, KubeletKey, kubelet),
		func() error { return apply.CreateOrUpdate(ctx, c.RbacV1().Roles(metav1.NamespaceSystem), role) },
		func() error {
			return apply.CreateOrUpdate(ctx, c.RbacV1().RoleBindings(metav1.NamespaceSystem), binding)
		},
	)
}

// KubeadmAPIVersion is the config API kubeadm v1.33 to v1.36 reads.
const KubeadmAPIVersion = "kubeadm.k8s.io/v1beta4"

// KubeProxyConfigMap is the kube-proxy addon's ConfigMap, named as kubeadm
// names it (kubeadm join reads its config.conf).
const KubeProxyConfigMap = "kube-proxy"

// KubeadmClusterConfiguration renders the cluster's configuration as
// kubeadm's ClusterConfiguration: kubestrap's fields carry kubeadm's v1beta4
// names, so only the apiVersion and kubestrap's own extension differ.
func KubeadmClusterConfiguration(c *config.ClusterConfiguration) ([]byte, error) {
	cp := *c
	cp.TypeMeta = metav1.TypeMeta{APIVersion: KubeadmAPIVersion, Kind: config.KindCluster}
	cp.Networking.PodNetwork = "" // kubestrap's: kubeadm installs no pod network
	// kubestrap's too: kubeadm keeps them in kubelet-config and kube-proxy.
	cp.KubeletConfiguration, cp.KubeProxyConfiguration = nil, nil
	// Secrets encryption is kubestrap's too; a kubeadm control-plane join
	// must still point its API server at the keys, or it would write Secrets
	// in the clear and read none of the others'. Without the keys (kubeadm's
	// download-certs does not bring them) its API server does not start,
	// which is the failure to want.
	cp.SecretsEncryption, cp.APIServer.Audit = nil, nil
	if c.SecretsEncryption.On() {
		cp.APIServer.ExtraArgs = append(append([]config.Arg(nil), c.APIServer.ExtraArgs...),
			config.Arg{Name: "encryption-provider-config", Value: path.Join(c.CertificatesDir, layout.EncryptionConfig)},
			config.Arg{Name: "encryption-provider-config-automatic-reload", Value: "true"})
	}
	return yaml.Marshal(&cp)
}

// KubeadmConfigMap is where kubeadm stores its ClusterConfiguration (key
// ClusterConfiguration, apiVersion kubeadm.k8s.io/v1beta4), readable by
// bootstrap tokens and nodes under kubeadm's RBAC.
const KubeadmConfigMap = "kubeadm-config"

// DownloadConfig reads the ClusterConfiguration UploadConfig stored, with
// defaults for what it leaves out. A cluster kubeadm made has none: its
// kubeadm-config is read instead (kubestrap's fields follow kubeadm's
// v1beta4 names; the ones kubestrap lacks are ignored). Without kubeadm's
// grants a token may not even learn that kubestrap-config is missing, so
// Forbidden falls back too.
func DownloadConfig(ctx context.Context, c kubernetes.Interface) (*config.ClusterConfiguration, error) {
	cms := c.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	name := ClusterConfigMap
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		if kcm, kerr := cms.Get(ctx, KubeadmConfigMap, metav1.GetOptions{}); kerr == nil {
			cm, err, name = kcm, nil, KubeadmConfigMap
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read the cluster's configuration (kube-system/%s, or kubeadm's %s): %w",
			ClusterConfigMap, KubeadmConfigMap, err)
	}
	cluster := &config.ClusterConfiguration{}
	if err := yaml.Unmarshal([]byte(cm.Data[ConfigMapKey]), cluster); err != nil {
		return nil, fmt.Errorf("kube-system/%s: %w", name, err)
	}
	config.SetClusterDefaults(cluster)
	return cluster, nil
}

// Mark labels the node and taints it (taints may be empty) so that
// workloads go to workers. It waits for the node to register, and retries
// on conflicts with the kubelet's own status updates.
func Mark(ctx context.Context, c kubernetes.Interface, name string, taints []corev1.Taint, s poll.Spec) error {
	if _, err := kubelet.WaitNode(ctx, c, name, s); err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[Label] = ""
		n.Labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		for _, t := range taints {
			if !hasTaint(n.Spec.Taints, t) {
				n.Spec.Taints = append(n.Spec.Taints, t)
			}
		}
		_, err = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

func hasTaint(ts []corev1.Taint, t corev1.Taint) bool {
	for _, x := range ts {
		if x.Key == t.Key && x.Effect == t.Effect {
			return true
		}
	}
	return false
}

// Taints are the taints of a control-plane node: the
// configured ones when set (an empty list means none), else NoSchedule.
func Taints(nr config.NodeRegistrationOptions) []corev1.Taint {
	if nr.Taints != nil {
		out := make([]corev1.Taint, 0, len(nr.Taints))
		for _, t := range nr.Taints {
			out = append(out, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
		}
		return out
	}
	return []corev1.Taint{{Key: Label, Effect: corev1.TaintEffectNoSchedule}}
}

// EnsureClusterAdmins binds admin.conf's group to cluster-admin. It must
// run with super-admin.conf (system:masters): until it exists, admin.conf
// has no rights at all.
func EnsureClusterAdmins(ctx context.Context, superAdmin kubernetes.Interface) error {
	return apply.CreateOrUpdate(ctx, superAdmin.RbacV1().ClusterRoleBindings(),
		apply.ClusterRoleBinding(ClusterAdminsBinding, "cluster-admin", apply.Group(certs.AdminGroup)))
}

// AdminAllowed says whether c may do what init does with admin.conf: it
// asks the API server whether c may create ConfigMaps in kube-system.
func AdminAllowed(ctx context.Context, c kubernetes.Interface) (bool, error) {
	r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: metav1.NamespaceSystem, Verb: "create", Resource: "configmaps"}}}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	if !r.Status.Allowed {
		return false, fmt.Errorf("admin.conf may not create ConfigMaps in kube-system yet (%s)", r.Status.Reason)
	}
	return true, nil
}

// ClusterAdminsBinding binds admin.conf's group to cluster-admin.
const ClusterAdminsBinding = "kubestrap:cluster-admins"
