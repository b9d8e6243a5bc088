package kubelet

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/poll"
)

// NodeReady reads a Node's Ready condition: whether it is true, and the
// kubelet's reason and message when it is not.
func NodeReady(n *corev1.Node) (bool, string) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return true, ""
			}
			return false, strings.TrimSpace(c.Reason + ": " + c.Message)
		}
	}
	return false, "no Ready condition yet"
}

// WaitNodeReady waits until the Node called name is Ready.
func WaitNodeReady(ctx context.Context, c kubernetes.Interface, name string, s poll.Spec) error {
	s.What = "node " + name + " to be Ready (`kubectl describe node " + name + "` says why not)"
	return poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ready, _ := NodeReady(n)
		return ready, nil
	})
}
