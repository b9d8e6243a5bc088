package components

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/hostfs"
)

// ConfigMaps that upload-config writes and join reads.
const (
	ClusterConfigMap = "kubestrap-config"
	KubeletConfigMap = "kubelet-config"
	ConfigMapKey     = "ClusterConfiguration"
	KubeletKey       = "kubelet"
	configReaders    = "kubestrap:config-readers"
)

// ControlPlaneLabel and taint mark control-plane nodes, as in kubeadm.
const ControlPlaneLabel = "node-role.kubernetes.io/control-plane"

// UploadConfig stores the ClusterConfiguration and the kubelet config in
// kube-system, readable by joining nodes (bootstrap tokens) and nodes.
func UploadConfig(ctx context.Context, c kubernetes.Interface, cluster, kubelet []byte) error {
	cms := c.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: configReaders, Namespace: metav1.NamespaceSystem},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"},
			ResourceNames: []string{ClusterConfigMap, KubeletConfigMap}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: configReaders, Namespace: metav1.NamespaceSystem},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: configReaders},
		Subjects: []rbacv1.Subject{group(config.DefaultNodeTokenGroup), group("system:nodes")}}
	return Concurrently(
		func() error {
			return CreateOrUpdate(ctx, cms, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ClusterConfigMap,
				Namespace: metav1.NamespaceSystem}, Data: map[string]string{ConfigMapKey: string(cluster)}})
		},
		func() error {
			return CreateOrUpdate(ctx, cms, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: KubeletConfigMap,
				Namespace: metav1.NamespaceSystem}, Data: map[string]string{KubeletKey: string(kubelet)}})
		},
		func() error { return CreateOrUpdate(ctx, c.RbacV1().Roles(metav1.NamespaceSystem), role) },
		func() error { return CreateOrUpdate(ctx, c.RbacV1().RoleBindings(metav1.NamespaceSystem), binding) },
	)
}

// WaitNode waits until the Node object exists (the kubelet registered).
func WaitNode(ctx context.Context, c kubernetes.Interface, name string, interval time.Duration) (*corev1.Node, error) {
	for {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node %s did not register: %w (last error: %v)", name, ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// MarkControlPlane labels the node and, unless taint is false, taints it
// NoSchedule so that workloads go to workers.
func MarkControlPlane(ctx context.Context, c kubernetes.Interface, name string, taints []corev1.Taint) error {
	n, err := WaitNode(ctx, c, name, 100*time.Millisecond)
	if err != nil {
		return err
	}
	for {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[ControlPlaneLabel] = ""
		n.Labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		for _, t := range taints {
			if !hasTaint(n.Spec.Taints, t) {
				n.Spec.Taints = append(n.Spec.Taints, t)
			}
		}
		_, err = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		if err == nil || ctx.Err() != nil {
			return err
		}
		// A conflict with the kubelet's own status updates: read and retry.
		if n, err = c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
			return err
		}
	}
}

func hasTaint(ts []corev1.Taint, t corev1.Taint) bool {
	for _, x := range ts {
		if x.Key == t.Key && x.Effect == t.Effect {
			return true
		}
	}
	return false
}

// ControlPlaneTaints are the taints of a control-plane node: the
// configured ones when set (an empty list means none), else NoSchedule.
func ControlPlaneTaints(nr config.NodeRegistrationOptions) []corev1.Taint {
	if nr.Taints != nil {
		out := make([]corev1.Taint, 0, len(nr.Taints))
		for _, t := range nr.Taints {
			out = append(out, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
		}
		return out
	}
	return []corev1.Taint{{Key: ControlPlaneLabel, Effect: corev1.TaintEffectNoSchedule}}
}

// KubeletClientCurrent is the kubelet's rotated client certificate.
const KubeletClientCurrent = "/var/lib/kubelet/pki/kubelet-client-current.pem"

// FinalizeKubeletConfig points kubelet.conf at the rotated certificate
// file instead of the embedded one, once the kubelet has written it, so
// that rotation keeps the kubeconfig valid. It waits for the file.
func FinalizeKubeletConfig(ctx context.Context, path, current string) (bool, error) {
	for {
		if _, err := os.Stat(current); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("the kubelet did not write %s: %w", current, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return false, err
	}
	changed := false
	for _, a := range kc.AuthInfos {
		if a.ClientCertificate != current || len(a.ClientCertificateData) > 0 {
			a.ClientCertificate, a.ClientKey = current, current
			a.ClientCertificateData, a.ClientKeyData = nil, nil
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return false, err
	}
	return true, hostfs.WriteFileAtomic(path, data, 0o600)
}
