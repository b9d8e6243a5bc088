package addons

import (
	"context"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/preflight"
)

// NodeNetwork waits for the node's podCIDR, makes sure the runtime has the
// CNI plugins, and writes the node's conflist. Join uses it too.
func NodeNetwork(ctx context.Context, c kubernetes.Interface, e *preflight.Env, node, nodeIP string, s poll.Spec) (string, []string, error) {
	var cidr string
	s.What = "node " + node + " to get a podCIDR from kube-controller-manager's node IPAM"
	err := poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil {
			cidr = n.Spec.PodCIDR
		}
		return cidr != "", err
	})
	if err != nil {
		return "", nil, err
	}
	ctrd, err := preflight.ReadContainerdConfig(e)
	if err != nil {
		return "", nil, err
	}
	release, err := kubelet.ReleaseDir()
	if err != nil {
		return "", nil, err
	}
	installed, err := EnsureCNIPlugins(e.Root.Path(ctrd.CNIBinDir), filepath.Join(release, "cni"))
	if err != nil {
		return "", nil, err
	}
	conf, err := Conflist(cidr, PodMTU(nodeIP))
	if err != nil {
		return "", nil, err
	}
	_, err = WriteConflist(e.Root.Path(ctrd.CNIConfDir), conf)
	return cidr, installed, err
}
