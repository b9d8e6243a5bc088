package addons

import (
	"context"
	"net/netip"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/preflight"
)

// nodeMaskSize is kube-controller-manager's default --node-cidr-mask-size
// for IPv4: each node gets a /24 of the pod network.
const nodeMaskSize = 24

// ClaimFirstPodCIDR gives the cluster's first node the first /24 of the
// pod network, as kube-controller-manager's range allocator would once it
// wins its leader lease and syncs (about 5 s into init). The allocator
// counts a podCIDR already on a Node as taken, so it never hands it out
// again. Only init's own node may do this: no other node exists yet. A
// podCIDR already set (a resumed init, or kcm was first) is left alone.
func ClaimFirstPodCIDR(ctx context.Context, c kubernetes.Interface, node, podSubnet string) (string, error) {
	p, err := netip.ParsePrefix(podSubnet)
	if err != nil || !p.Addr().Is4() || p.Bits() > nodeMaskSize {
		return "", nil // kcm's allocator decides (or refuses) such ranges
	}
	first := netip.PrefixFrom(p.Masked().Addr(), nodeMaskSize).String()
	var got string
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil // not registered yet: NodeNetwork waits for kcm
		}
		if err != nil {
			return err
		}
		if n.Spec.PodCIDR != "" {
			got = n.Spec.PodCIDR
			return nil
		}
		n.Spec.PodCIDR, n.Spec.PodCIDRs = first, []string{first}
		_, err = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		got = first
		return err
	})
	return got, err
}

// NodeNetwork waits for the node's podCIDR, makes sure the runtime has the
// CNI plugins, and writes the node's conflist. Join uses it too.
func NodeNetwork(ctx context.Context, c kubernetes.Interface, e *node.Host, node, nodeIP string, s poll.Spec) (string, []string, error) {
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
