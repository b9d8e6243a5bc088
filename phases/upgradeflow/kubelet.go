package upgradeflow

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/staticpods"
	"github.com/kubestrap/kubestrap/systemd"
)

// kubeletReadyTimeout bounds the wait for the Node to report the new
// kubelet and be Ready.
const kubeletReadyTimeout = 3 * time.Minute

// runKubelet switches the node's kubelet to the target's, and only when
// the API server it talks to runs the target already: never a kubelet
// newer than its API server.
func runKubelet(ctx context.Context, d *Data) (string, error) {
	if v := installedKubelet(d); v == d.target {
		return "unchanged at " + v, nil
	}
	agent, err := kubelet.AgentFor(d.target)
	if err != nil {
		return "", err
	}
	if d.DryRun() {
		return fmt.Sprintf("dry-run: would install %s and restart the kubelet, once the API server runs %s", agent, d.target), nil
	}
	if err := d.checkAPIServerAt(ctx); err != nil {
		return "", err
	}
	if !systemd.Running(d.Env().Root) {
		return "", systemd.ErrNoSystemd
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, systemd.Timeout)
	started, err := kubelet.Start(sctx, d.Env().Root, d.Systemd(), agent)
	cancel()
	if err != nil {
		return "", err
	}
	if err := d.waitNodeAt(ctx); err != nil {
		return "", err
	}
	if err := d.waitControlPlane(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s; Node %s Ready at %s (%s)", started, d.nodeName, d.target, poll.FormatDuration(time.Since(start))), nil
}

// checkAPIServerAt: on a control plane, this node's API server (the one its
// kubelet talks to) runs the target; on a worker, the API server answering
// through the cluster's endpoint does.
func (d *Data) checkAPIServerAt(ctx context.Context) error {
	if d.controlPlane {
		img, err := staticpods.ManifestImage(d.ManifestDir(), staticpods.KubeAPIServer)
		if err != nil {
			return err
		}
		if tag(img) != d.target {
			return fmt.Errorf("this node's API server runs %s, not %s: its kubelet would be newer than its API server; "+
				"run the control-plane phase first", tag(img), d.target)
		}
		return nil
	}
	v, err := d.client.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("ask the API server for its version: %w", err)
	}
	if config.NewerMinor(d.target, v.GitVersion) {
		return fmt.Errorf("the API server runs %s: a %s kubelet would be newer than it; upgrade every control plane first",
			v.GitVersion, d.target)
	}
	return nil
}

// waitControlPlane waits for this node's static pods after the kubelet
// switch: a new kubelet restarts them (their container hashes change
// between versions), and the next control plane's upgrade must not start
// while this one's etcd member is still coming back.
func (d *Data) waitControlPlane(ctx context.Context) error {
	if !d.controlPlane {
		return nil
	}
	c, err := staticpods.ProbeConfig(d.ManifestDir())
	if err != nil {
		return err
	}
	probes, err := staticpods.ControlPlaneProbes(c, d.HostPath(c.Cluster.CertificatesDir))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, kubeletReadyTimeout)
	defer cancel()
	w := staticpods.Waiter{Probes: probes, Interval: 500 * time.Millisecond, Out: d.Out(), Prefix: "kubelet",
		Logs: staticpods.LogsFrom(d.cri)}
	if err := w.Wait(ctx); err != nil {
		return fmt.Errorf("the control plane after the kubelet's restart: %w", err)
	}
	return settled("every etcd member to be healthy", checkEtcdMembers)(ctx, d)
}

// waitNodeAt waits for this node's Node to report the target kubelet and
// be Ready.
func (d *Data) waitNodeAt(ctx context.Context) error {
	s := poll.Spec{What: fmt.Sprintf("Node %s to be Ready with kubelet %s", d.nodeName, d.target),
		Interval: time.Second, Timeout: kubeletReadyTimeout, Out: d.Out(), Prefix: "kubelet"}
	return poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		n, err := d.client.CoreV1().Nodes().Get(ctx, d.nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ready, why := kubelet.NodeReady(n)
		if v := n.Status.NodeInfo.KubeletVersion; v != d.target {
			return false, fmt.Errorf("the Node reports kubelet %s", v)
		}
		if !ready {
			return false, fmt.Errorf("not Ready: %s", why)
		}
		return true, nil
	})
}
