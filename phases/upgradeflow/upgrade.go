package upgradeflow

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/staticpods"
)

// ApplyPhases is the phase tree of `kubestrap upgrade apply VERSION`.
func ApplyPhases() []phases.Phase {
	return []phases.Phase{
		{Name: "preflight", Short: "Check the version skew, the cluster's health, the new images and kubelet, and disk space",
			Run: step(runPreflight)},
		{Name: "etcd-snapshot", Short: "Save a snapshot of this node's etcd member before anything changes",
			Run: step(runSnapshot), RunIf: controlPlane},
		{Name: "certs-renew", Short: "Renew the control plane's certificates (--certificate-renewal=false skips it)",
			Run: step(runCertsRenew), RunIf: renewing},
		controlPlanePhase(),
		{Name: "upload-config", Short: "Store the cluster's configuration at the new version (kubestrap's and kubeadm-config)",
			Run: step(runUploadConfig)},
		{Name: "addons", Short: "Update CoreDNS (keeping its Corefile), kube-proxy and the pod network, rolling",
			Phases: addonPhases()},
		{Name: "kubelet", Short: "Switch this node's kubelet to the new version and wait for the Node to be Ready at it",
			Run: step(runKubelet)},
	}
}

// NodePhases is the phase tree of `kubestrap upgrade node`.
func NodePhases() []phases.Phase {
	return []phases.Phase{
		{Name: "preflight", Short: "Check that the cluster is at the version, and the images and kubelet this node needs",
			Run: step(runPreflight)},
		controlPlanePhase(),
		{Name: "kubelet", Short: "Switch this node's kubelet to the cluster's version and wait for the Node to be Ready at it",
			Run: step(runKubelet)},
	}
}

func as(d phases.Data) (*Data, error) {
	ud, ok := d.(*Data)
	if !ok {
		return nil, fmt.Errorf("internal error: upgrade phase given %T", d)
	}
	return ud, nil
}

func step(fn func(ctx context.Context, d *Data) (string, error)) func(context.Context, phases.Data) (string, error) {
	return func(ctx context.Context, data phases.Data) (string, error) {
		d, err := as(data)
		if err != nil {
			return "", err
		}
		return fn(ctx, d)
	}
}

func controlPlane(data phases.Data) (bool, error) {
	d, err := as(data)
	return err == nil && d.controlPlane, err
}

func renewing(data phases.Data) (bool, error) {
	d, err := as(data)
	return err == nil && d.controlPlane && d.opts.CertificateRenewal, err
}

// controlPlanePhase upgrades this node's static pods one at a time, in the
// order kubeadm uses: etcd first (the API server of the new version may
// need its features), then the API server, then its clients.
func controlPlanePhase() phases.Phase {
	p := phases.Phase{Name: "control-plane", Short: "Upgrade this node's static pods one at a time, rolling back a step that fails",
		RunIf: controlPlane}
	for _, c := range staticpods.Components() {
		p.Phases = append(p.Phases, phases.Phase{Name: c, Short: "Upgrade " + c + " and wait for its health check",
			Run: step(func(ctx context.Context, d *Data) (string, error) { return upgradeComponent(ctx, d, c) }),
			RunIf: func(data phases.Data) (bool, error) {
				d, err := as(data)
				return err == nil && d.controlPlane && (c != staticpods.Etcd || d.opts.EtcdUpgrade), err
			}})
	}
	return p
}

// component is the upgrade of one static pod of this node to the target.
func (d *Data) component(name string) (staticpods.Upgrade, error) {
	img, err := d.targetImages()
	if err != nil {
		return staticpods.Upgrade{}, err
	}
	c := d.targetCluster()
	u := staticpods.Upgrade{ManifestDir: d.ManifestDir(), BackupDir: d.BackupDir(), Component: name,
		CRIEndpoint: d.cri, Timeout: d.opts.Timeout, Out: d.Out(), Prefix: "control-plane/" + name, DryRun: d.DryRun(),
		Mirrored: d.mirrored(name)}
	switch name {
	case staticpods.Etcd:
		u.Image = img.Etcd
	case staticpods.KubeAPIServer:
		u.Image, u.Args = img.APIServer, c.APIServer.ExtraArgs
	case staticpods.ControllerManager:
		u.Image, u.Args = img.ControllerManager, c.ControllerManager.ExtraArgs
	case staticpods.Scheduler:
		u.Image, u.Args = img.Scheduler, c.Scheduler.ExtraArgs
	default:
		return u, fmt.Errorf("no static pod %s", name)
	}
	return u, nil
}

// mirrored checks the kubelet's mirror pod of a component on this node.
func (d *Data) mirrored(component string) func(context.Context, *corev1.Pod) (bool, error) {
	name := component + "-" + d.nodeName
	return func(ctx context.Context, want *corev1.Pod) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		p, err := d.client.CoreV1().Pods(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if !staticpods.SameSpec(p, want) {
			return false, fmt.Errorf("pod %s still shows %s (hash %s)", name, staticpods.ContainerImage(p),
				p.Annotations["kubernetes.io/config.hash"])
		}
		return true, nil
	}
}

func upgradeComponent(ctx context.Context, d *Data, name string) (string, error) {
	u, err := d.component(name)
	if err != nil {
		return "", err
	}
	res, err := u.Run(ctx)
	switch {
	case errors.Is(err, staticpods.ErrRolledBack):
		return "", fmt.Errorf("%w\nnothing after %s was changed; fix the cause and run `kubestrap upgrade %s` again",
			err, name, d.command())
	case err != nil:
		return "", err
	case !res.Changed:
		return "unchanged at " + tag(res.To), nil
	case d.DryRun():
		return fmt.Sprintf("dry-run: would move from %s to %s", tag(res.From), tag(res.To)), nil
	}
	return fmt.Sprintf("%s -> %s, healthy (previous manifest kept in %s)", tag(res.From), tag(res.To),
		filepath.Join(d.BackupDir(), name+".yaml.prev")), nil
}

func (d *Data) command() string {
	if d.opts.Node {
		return "node"
	}
	return "apply " + d.target
}

// tag is an image reference's tag, or the reference.
func tag(ref string) string {
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i:], "/") {
		return ref[i+1:]
	}
	return ref
}

// pending lists what this node still runs below the target: the static
// pods whose manifests would change, and the kubelet.
func (d *Data) pending() ([]string, error) {
	var out []string
	if d.controlPlane {
		for _, c := range staticpods.Components() {
			if c == staticpods.Etcd && !d.opts.EtcdUpgrade {
				continue
			}
			u, err := d.component(c)
			if err != nil {
				return nil, err
			}
			u.DryRun = true
			res, err := u.Run(context.Background())
			if err != nil {
				return nil, err
			}
			if res.Changed {
				out = append(out, c)
			}
		}
	}
	if v := installedKubelet(d); v != d.target {
		out = append(out, "kubelet")
	}
	return out, nil
}

// Done says whether the node (and, for apply, the stored configuration)
// is at the target already: a second apply at the same version is a no-op.
func Done(data phases.Data) (bool, error) {
	d, err := as(data)
	if err != nil {
		return false, err
	}
	if !d.opts.Node && d.cluster.KubernetesVersion != d.target || len(d.opts.APIServerExtraArgs) > 0 {
		return false, nil
	}
	p, err := d.pending()
	if err != nil || len(p) > 0 {
		return false, err
	}
	fmt.Fprintf(d.Out(), "[upgrade] this node is at %s already: nothing to do\n", d.target)
	return true, nil
}
