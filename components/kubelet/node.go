package kubelet

import (
	"context"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
)

// WaitNode waits until the Node object exists (the kubelet registered).
func WaitNode(ctx context.Context, c kubernetes.Interface, name string, s poll.Spec) (*corev1.Node, error) {
	var node *corev1.Node
	s.What = "node " + name + " to register"
	err := poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		node = n
		return err == nil, err
	})
	return node, err
}

// FinalizeKubeconfig points kubelet.conf at the rotated certificate
// file instead of the embedded one, once the kubelet has written it, so
// that rotation keeps the kubeconfig valid. It waits for the file.
// current is the host path the kubeconfig names; it is looked for in root.
func FinalizeKubeconfig(ctx context.Context, root node.Root, path, current string, s poll.Spec) (bool, error) {
	s.What = "the kubelet to write " + current
	err := poll.Until(ctx, s, func(context.Context) (bool, error) {
		_, err := os.Stat(root.Path(current))
		return err == nil, nil
	})
	if err != nil {
		return false, err
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
	return true, node.WriteFileAtomic(path, data, 0o600)
}
