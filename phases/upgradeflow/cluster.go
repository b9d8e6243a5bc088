package upgradeflow

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/addons"
	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/renew"
	"github.com/kubestrap/kubestrap/snapshot"
	"github.com/kubestrap/kubestrap/staticpods"
)

// rolloutTimeout bounds the wait for an addon's pods on every node.
const rolloutTimeout = 5 * time.Minute

// runSnapshot saves this member's data first: the way back from an
// upgrade that went wrong past what a rollback undoes.
func runSnapshot(ctx context.Context, d *Data) (string, error) {
	if d.DryRun() {
		return "dry-run: would save a snapshot into " + snapshot.DefaultDir, nil
	}
	start := time.Now()
	s, err := snapshot.SaveLocal(ctx, d.Env().Root, "", d.HostPath(snapshot.DefaultDir), 0, start)
	if err != nil {
		return "", fmt.Errorf("save an etcd snapshot before the upgrade: %w", err)
	}
	return fmt.Sprintf("saved %s (%s, revision %d, %s); `kubestrap etcd snapshot restore %s` goes back to it",
		s.Path, snapshot.Size(s.Info.Size), s.Info.Revision, poll.FormatDuration(time.Since(start)), s.Path), nil
}

// runCertsRenew renews the control plane's certificates as kubeadm's
// upgrade does; the static pods read them when the next phase replaces
// them, so nothing is restarted here.
func runCertsRenew(ctx context.Context, d *Data) (string, error) {
	kubeDir := d.KubernetesDir()
	s := renew.LoadSettings(ctx, kubeDir, "", 0, func() (kubernetes.Interface, error) { return d.client, nil })
	rep, err := renew.Run(ctx, renew.Targets(), renew.Options{CertDir: d.HostPath(s.CertDir), KubeDir: kubeDir,
		Validity: s.Validity, DryRun: d.DryRun(), Out: d.Out(), Now: time.Now, NoRestart: true})
	if err != nil {
		return "", err
	}
	n := 0
	for _, c := range rep.Certificates {
		if c.Action == renew.Renewed || c.Action == renew.WouldRenew {
			n++
		}
	}
	if d.DryRun() {
		return fmt.Sprintf("dry-run: would renew %d certificates", n), nil
	}
	return fmt.Sprintf("renewed %d certificates (valid %s); the components read them when they restart next",
		n, certs.ShortDuration(s.Validity)), nil
}

// runUploadConfig stores the cluster's configuration at the target: the
// control planes' `upgrade node` and later joins read it. kubelet-config
// keeps its content (the kubelet's configuration does not change between
// the versions kubestrap upgrades).
func runUploadConfig(ctx context.Context, d *Data) (string, error) {
	c := d.targetCluster()
	if d.DryRun() {
		return "dry-run: would store kubernetesVersion " + c.KubernetesVersion, nil
	}
	cm, err := d.client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, controlplane.KubeletConfigMap, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("read kube-system/%s: %w", controlplane.KubeletConfigMap, err)
	}
	if err := controlplane.UploadConfig(ctx, d.client, c, []byte(cm.Data[controlplane.KubeletKey])); err != nil {
		return "", err
	}
	msg := "stored kubernetesVersion " + c.KubernetesVersion + " in kube-system/" + controlplane.ClusterConfigMap +
		" and " + controlplane.KubeadmConfigMap
	rec := filepath.Join(d.KubernetesDir(), layout.InitRecord)
	if node.Exists(rec) {
		if err := updateInitRecord(rec, c); err != nil {
			return "", err
		}
		msg += "; updated " + rec + " (a re-run of init with the new release is a no-op)"
	}
	return msg, nil
}

// updateInitRecord keeps init's record in step with the cluster, so that
// init, re-run by a playbook after the upgrade, sees its configuration.
func updateInitRecord(path string, c *config.ClusterConfiguration) error {
	docs, err := config.ReadFile(path)
	if err != nil {
		return err
	}
	ic, err := config.InitFrom(docs)
	if err != nil {
		return err
	}
	ic.Cluster.KubernetesVersion = c.KubernetesVersion
	ic.Cluster.APIServer.ExtraArgs = c.APIServer.ExtraArgs
	b, err := config.MarshalInit(ic)
	if err != nil {
		return err
	}
	return node.WriteFileAtomic(path, b, 0o600)
}

func addonPhases() []phases.Phase {
	return []phases.Phase{
		{Name: "coredns", Short: "Update CoreDNS; the coredns ConfigMap (the Corefile) is left as it is", Run: step(runCoreDNS)},
		{Name: "kube-proxy", Short: "Update kube-proxy (rolling, one node at a time)", Run: step(runKubeProxy)},
		{Name: "pod-network", Short: "Update the pod network's DaemonSet", Run: step(runPodNetwork)},
	}
}

// clusterServer is the API address the addons are given.
func (d *Data) clusterServer() (string, error) {
	ic := &config.Init{Cluster: *d.targetCluster()}
	ep, err := staticpods.LocalAPIEndpoint(d.ManifestDir())
	if err != nil && ic.Cluster.ControlPlaneEndpoint == "" {
		return "", err
	}
	ic.LocalAPIEndpoint = ep
	return certs.ClusterServer(ic), nil
}

func runCoreDNS(ctx context.Context, d *Data) (string, error) {
	img, server, err := d.addonInputs()
	if err != nil {
		return "", err
	}
	_, upstream := kubelet.ResolvConfFor(d.Env().Root)
	m, err := addons.CoreDNSManifest(d.targetCluster(), img, server, upstream)
	return d.applyAddon(ctx, "CoreDNS", m, err, keepConfigMap("coredns"),
		rollout{kind: "Deployment", name: "coredns"})
}

func runKubeProxy(ctx context.Context, d *Data) (string, error) {
	img, server, err := d.addonInputs()
	if err != nil {
		return "", err
	}
	m, err := addons.KubeProxyManifest(d.targetCluster(), img, server, addons.ConntrackWritable(d.Env().Root))
	return d.applyAddon(ctx, "kube-proxy", m, err, nil, rollout{kind: "DaemonSet", name: "kube-proxy"})
}

func runPodNetwork(ctx context.Context, d *Data) (string, error) {
	c := d.targetCluster()
	if c.Networking.PodNetwork == "none" {
		return "pod network none: yours to upgrade", nil
	}
	img, server, err := d.addonInputs()
	if err != nil {
		return "", err
	}
	m, err := addons.FlannelManifest(c, img, server)
	return d.applyAddon(ctx, "flannel", m, err, nil, rollout{namespace: "kube-flannel", kind: "DaemonSet", name: "kube-flannel-ds"})
}

func (d *Data) addonInputs() (images.ImageSet, string, error) {
	img, err := d.targetImages()
	if err != nil {
		return img, "", err
	}
	server, err := d.clusterServer()
	return img, server, err
}

// keep drops an object the cluster has already from the manifest: the
// user's edits of it (a Corefile with their zones) survive the upgrade.
func keepConfigMap(name string) func(runtime.Object) bool {
	return func(o runtime.Object) bool {
		cm, ok := o.(*corev1.ConfigMap)
		return ok && cm.Name == name
	}
}

func (d *Data) applyAddon(ctx context.Context, what string, manifest []byte, err error, skip func(runtime.Object) bool,
	r rollout) (string, error) {
	if err != nil {
		return "", err
	}
	objs, err := apply.DecodeObjects(manifest)
	if err != nil {
		return "", err
	}
	if d.DryRun() {
		return "dry-run: would apply " + what, nil
	}
	kept := ""
	if skip != nil {
		objs, kept = d.dropExisting(ctx, objs, skip)
	}
	start := time.Now()
	if err := apply.Objects(ctx, d.client, objs); err != nil {
		return "", err
	}
	if err := r.wait(ctx, d); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s updated and rolled out on every node (%s)%s", what, poll.FormatDuration(time.Since(start)), kept), nil
}

func (d *Data) dropExisting(ctx context.Context, objs []runtime.Object, skip func(runtime.Object) bool) ([]runtime.Object, string) {
	out := objs[:0:0]
	note := ""
	for _, o := range objs {
		cm, ok := o.(*corev1.ConfigMap)
		if ok && skip(o) {
			if _, err := d.client.CoreV1().ConfigMaps(cm.Namespace).Get(ctx, cm.Name, metav1.GetOptions{}); err == nil {
				note = "; kept the cluster's ConfigMap " + cm.Namespace + "/" + cm.Name
				continue
			}
		}
		out = append(out, o)
	}
	return out, note
}

// rollout is a Deployment's or DaemonSet's rolling update to wait for.
type rollout struct{ namespace, kind, name string }

func (r rollout) wait(ctx context.Context, d *Data) error {
	ns := r.namespace
	if ns == "" {
		ns = metav1.NamespaceSystem
	}
	s := poll.Spec{What: fmt.Sprintf("%s %s/%s to roll out", r.kind, ns, r.name), Interval: time.Second,
		Timeout: rolloutTimeout, Out: d.Out(), Prefix: "addons"}
	return poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		if r.kind == "Deployment" {
			x, err := d.client.AppsV1().Deployments(ns).Get(ctx, r.name, metav1.GetOptions{})
			return err == nil && deploymentDone(x), err
		}
		x, err := d.client.AppsV1().DaemonSets(ns).Get(ctx, r.name, metav1.GetOptions{})
		return err == nil && daemonSetDone(x), err
	})
}

func deploymentDone(x *appsv1.Deployment) bool {
	want := int32(1)
	if x.Spec.Replicas != nil {
		want = *x.Spec.Replicas
	}
	s := x.Status
	return s.ObservedGeneration >= x.Generation && s.UpdatedReplicas == want && s.AvailableReplicas == want &&
		s.Replicas == want
}

func daemonSetDone(x *appsv1.DaemonSet) bool {
	s := x.Status
	return s.ObservedGeneration >= x.Generation && s.UpdatedNumberScheduled == s.DesiredNumberScheduled &&
		s.NumberAvailable == s.DesiredNumberScheduled
}
