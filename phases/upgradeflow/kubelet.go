package upgradeflow

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
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
	kubeletStarted := time.Now()
	if err := d.waitNodeAt(ctx); err != nil {
		return "", err
	}
	if err := d.waitControlPlane(ctx, kubeletStarted); err != nil {
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

// kubeletSettle is how long a new kubelet takes to go through its static
// pods once: it restarts those whose container hashes changed between
// versions (a few seconds after it starts, in the lab).
const kubeletSettle = 10 * time.Second

// waitControlPlane waits for this node's static pods after the kubelet
// switch: the new kubelet may restart them, and neither the caller (a
// drain next, through this API server) nor the next control plane's
// upgrade may start while this one's API server or etcd member is coming
// back. Healthy means every probe passes and every component's newest
// container runs, three looks in a row, from kubeletSettle on.
func (d *Data) waitControlPlane(ctx context.Context, kubeletStarted time.Time) error {
	if !d.controlPlane {
		return nil
	}
	probes, err := d.localProbes()
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(kubeletStarted.Add(kubeletSettle))):
	}
	good := 0
	s := poll.Spec{What: "this node's control plane after the kubelet's restart", Interval: 500 * time.Millisecond,
		Timeout: kubeletReadyTimeout, Out: d.Out(), Prefix: "kubelet"}
	err = poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		if err := controlPlaneUp(ctx, d.cri, d.ManifestDir(), probes); err != nil {
			good = 0
			return false, err
		}
		good++
		return good >= 3, nil
	})
	if err != nil {
		return err
	}
	return settled("every etcd member to be healthy", checkEtcdMembers)(ctx, d)
}

func controlPlaneUp(ctx context.Context, cri, manifestDir string, probes []staticpods.Probe) error {
	for _, c := range staticpods.Components() {
		if !node.Exists(staticpods.ManifestPath(manifestDir, c)) {
			continue // external etcd
		}
		if err := staticpods.NewestRunning(ctx, cri, c); err != nil {
			return err
		}
	}
	for _, p := range probes {
		if err := p.Check(ctx); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	return nil
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
