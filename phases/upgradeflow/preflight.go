package upgradeflow

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/snapshot"
	"github.com/kubestrap/kubestrap/staticpods"
)

// minFreeDisk is what the snapshot and the new images' layers need at
// least; a full disk in the middle of an upgrade is the worst place to
// find out.
const minFreeDisk = 512 << 20

// runPreflight refuses an upgrade that cannot succeed before anything is
// changed: every problem is listed with its fix.
func runPreflight(ctx context.Context, d *Data) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute+2*healthSettle)
	defer cancel()
	checks := []func(context.Context, *Data) error{checkNodeVersions, checkImages, checkKubelet, checkRuntime, checkImageGC}
	if d.controlPlane {
		checks = append(checks, settled("this node's control plane to be healthy", checkHealthy),
			settled("every etcd member to be healthy", checkEtcdMembers), checkDisk)
	}
	var problems []string
	for _, c := range checks {
		if err := c(ctx, d); err != nil {
			problems = append(problems, "  - "+err.Error())
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("cannot upgrade %s to %s, nothing was changed:\n%s", d.nodeName, d.target,
			strings.Join(problems, "\n"))
	}
	from := d.cluster.KubernetesVersion
	if d.opts.Node {
		from = installedKubelet(d)
	}
	return fmt.Sprintf("%s to %s: versions, health, images, kubelet and disk checked", from, d.target), nil
}

// checkNodeVersions: no kubelet of the cluster may be newer than the
// target (the API server would not serve it).
func checkNodeVersions(ctx context.Context, d *Data) error {
	nodes, err := d.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		if !d.controlPlane {
			return nil // a worker's credentials may not list nodes
		}
		return fmt.Errorf("list the nodes: %w", err)
	}
	var newer []string
	for _, n := range nodes.Items {
		if v := n.Status.NodeInfo.KubeletVersion; config.NewerMinor(v, d.target) {
			newer = append(newer, n.Name+" ("+v+")")
		}
	}
	if len(newer) > 0 {
		return fmt.Errorf("kubelets newer than %s: %s; a kubelet must never be newer than its API server",
			d.target, strings.Join(newer, ", "))
	}
	return nil
}

// checkImages: the images this node will run at the target are in its
// runtime already (kubestrap never pulls in the middle of an upgrade).
func checkImages(ctx context.Context, d *Data) error {
	img, err := d.targetImages()
	if err != nil {
		return err
	}
	refs := []string{img.Proxy, img.Pause}
	if d.controlPlane {
		refs = append(refs, img.APIServer, img.ControllerManager, img.Scheduler, img.CoreDNS)
		if d.opts.EtcdUpgrade {
			refs = append(refs, img.Etcd)
		}
	}
	missing, err := node.MissingImages(ctx, d.cri, refs)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("images missing on this node: %s; load the release's images first "+
			"(kubestrap images load kubestrap-images-%s.tar) or let the runtime pull them (crictl pull)",
			strings.Join(missing, ", "), d.target)
	}
	return nil
}

// checkKubelet: the release of the target version is installed here.
func checkKubelet(_ context.Context, d *Data) error {
	agent, err := kubelet.AgentFor(d.target)
	if err != nil {
		return err
	}
	if v := kubelet.BinaryVersion(agent); v != d.target {
		return fmt.Errorf("%s says it is %q, not %s: reinstall the release", agent, v, d.target)
	}
	return nil
}

// checkRuntime: Kubernetes v1.36 drops containerd 1.x (the CRI v1 it
// needs, and cgroup v1).
func checkRuntime(ctx context.Context, d *Data) error {
	v, err := config.ParseKubernetesVersion(d.target)
	if err != nil || v.Minor < 36 {
		return err
	}
	name, ver, err := d.Env().CRIVersion(ctx, d.cri)
	if err != nil {
		return fmt.Errorf("ask the runtime for its version: %w", err)
	}
	if name == "containerd" && strings.HasPrefix(strings.TrimPrefix(ver, "v"), "1.") {
		return fmt.Errorf("containerd 2.0 or later is needed by Kubernetes %s, this node runs %s %s: upgrade containerd "+
			"first (containerd.io 2.x; then `kubestrap preflight --fix` re-enables its CRI plugin)", d.target, name, ver)
	}
	return nil
}

// healthSettle is how long preflight gives this node's control plane and
// etcd to become healthy: a kubelet that has just restarted, or a run
// killed moments ago, leaves them restarting, which is no reason to refuse.
const healthSettle = 90 * time.Second

// settled retries a health check until it passes or healthSettle is over;
// its own error (which names the fix) is what a timeout reports.
func settled(what string, check func(context.Context, *Data) error) func(context.Context, *Data) error {
	return func(ctx context.Context, d *Data) error {
		var last error
		s := poll.Spec{What: what, Interval: time.Second, Timeout: healthSettle, Out: d.Out(), Prefix: "preflight"}
		err := poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
			last = check(ctx, d)
			return last == nil, last
		})
		if err != nil && last != nil {
			return last
		}
		return err
	}
}

// checkHealthy: this node's control plane passes its health checks now.
// A component an earlier run was upgrading is left to its step, which
// resumes it: it waits for it and rolls it back if it is not healthy.
func checkHealthy(ctx context.Context, d *Data) error {
	if len(d.interrupted()) > 0 {
		return nil
	}
	probes, err := d.localProbes()
	if err != nil {
		return err
	}
	var bad []string
	for _, p := range probes {
		if err := p.Check(ctx); err != nil {
			bad = append(bad, p.Name+": "+err.Error())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("this node's control plane is not healthy (%s): upgrade a healthy cluster, "+
			"`kubestrap status` says what is wrong", strings.Join(bad, "; "))
	}
	return nil
}

// checkEtcdMembers: every etcd member answers, so restarting this one
// cannot cost the quorum.
func checkEtcdMembers(ctx context.Context, d *Data) error {
	le, err := staticpods.LocalMember(d.Env().Root)
	if err != nil {
		return nil // external etcd: not ours to upgrade
	}
	files := le.HostTLS(d.Env().Root)
	cli, err := etcd.Client(le.Endpoints, files)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	members, err := etcd.Members(ctx, cli, etcd.HealthOf(files))
	if err != nil {
		return fmt.Errorf("list the etcd members: %w", err)
	}
	var bad []string
	for _, m := range members {
		if !m.Healthy && !m.IsLearner {
			bad = append(bad, fmt.Sprintf("%s (%x)", m.Name, m.ID))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("etcd members not healthy: %s; restarting this member now could lose the quorum: "+
			"bring them back first (`kubestrap status`)", strings.Join(bad, ", "))
	}
	return nil
}

// checkDisk: room for the snapshot.
func checkDisk(_ context.Context, d *Data) error {
	dir := d.HostPath(snapshot.DefaultDir)
	for !node.Exists(dir) && dir != "/" {
		dir = parent(dir)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("free space in %s: %w", dir, err)
	}
	if free := st.Bavail * uint64(st.Bsize); free < minFreeDisk {
		return fmt.Errorf("only %d MiB free in %s: the snapshot and the new images need %d MiB; free some space",
			free>>20, dir, minFreeDisk>>20)
	}
	return nil
}

func parent(p string) string {
	if i := strings.LastIndex(strings.TrimSuffix(p, "/"), "/"); i > 0 {
		return p[:i]
	}
	return "/"
}

func installedKubelet(d *Data) string { return kubelet.InstalledVersion(d.Env().Root) }

// imageGCMargin is how far below the kubelet's image GC threshold the image
// file system must be: the new version's images are not in use until their
// pods start, and the kubelet removes unused images above the threshold —
// on an air-gapped node, for good. containerd 1.6 does not even pin the
// sandbox image, so pause goes too (seen in the lab: no pod could start).
const imageGCMargin = 1

// checkImageGC: the kubelet will not garbage-collect the new images in the
// middle of the upgrade.
func checkImageGC(_ context.Context, d *Data) error {
	var kc struct {
		High *int32 `json:"imageGCHighThresholdPercent"`
	}
	high := int32(85) // the kubelet's default
	if b, err := os.ReadFile(d.Env().Root.Path(layout.KubeletConfigPath)); err == nil && yaml.Unmarshal(b, &kc) == nil && kc.High != nil {
		high = *kc.High
	}
	dir := d.Env().Root.Path("/var/lib/containerd")
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return nil // another runtime, or a root elsewhere: nothing to measure here
	}
	used := 100 - int32(st.Bavail*100/st.Blocks)
	if used >= high-imageGCMargin {
		return fmt.Errorf("the image file system (%s) is %d%% used: from %d%% (imageGCHighThresholdPercent) the "+
			"kubelet removes images no container uses, such as the new version's before their pods start; free "+
			"space below %d%%, or raise imageGCHighThresholdPercent in the kubelet configuration", dir, used, high,
			high-imageGCMargin)
	}
	return nil
}
