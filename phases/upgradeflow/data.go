// Package upgradeflow is `kubestrap upgrade apply` and `upgrade node`: a
// node's static pods one at a time, each waited for and rolled back when
// it does not become healthy, then the cluster's stored configuration and
// addons (apply only), then the node's kubelet — never before the API
// server it talks to runs the same version.
package upgradeflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/staticpods"
	"github.com/kubestrap/kubestrap/systemd"
)

// Options are what the command line gives an upgrade.
type Options struct {
	// Version is apply's target; for `upgrade node` it is the cluster's
	// stored version unless set.
	Version string
	// Node is `upgrade node` (this node only), not `upgrade apply`.
	Node bool
	// Plan only reads: no target is settled.
	Plan   bool
	DryRun bool
	Out    io.Writer
	Env    *node.Host
	// Systemd restarts the kubelet.
	Systemd systemd.Manager
	// CertificateRenewal and EtcdUpgrade are kubeadm's flags of the same
	// names (both on by default).
	CertificateRenewal, EtcdUpgrade bool
	// APIServerExtraArgs are set on the API server (and stored with the
	// cluster's configuration once it is healthy with them).
	APIServerExtraArgs []config.Arg
	// Timeout bounds each component's wait (and again its rollback's).
	Timeout time.Duration
	// Client, when set, replaces the kubeconfig's (tests).
	Client kubernetes.Interface
}

// Data is what the upgrade phases share.
type Data struct {
	phases.Base
	opts         Options
	client       kubernetes.Interface
	cluster      *config.ClusterConfiguration // as stored, before this upgrade
	target       string
	controlPlane bool
	nodeName     string
	cri          string
	// kubeletAtStart is the kubelet version this node ran when the run
	// started: `upgrade node` reports it as where it came from.
	kubeletAtStart string
}

// NewData reads this node's role and the cluster's stored configuration,
// and settles the target version. Nothing is written.
func NewData(ctx context.Context, o Options) (*Data, error) {
	// The base reads and writes the node's own files: an upgrade's dry run
	// reads them and writes nothing (DryRun below), it has no tree of its own.
	d := &Data{opts: o, Base: phases.NewBase(phases.Host{Out: o.Out, Env: o.Env, Systemd: o.Systemd})}
	kubeDir := o.Env.Root.Path(layout.KubernetesDir)
	switch node.RoleAt(kubeDir) {
	case node.ControlPlane:
		d.controlPlane = true
	case node.Worker:
		if !o.Node {
			return nil, errors.New("upgrade apply and plan run on a control-plane node (this one is a worker): " +
				"run it on a control plane, then `kubestrap upgrade node` here")
		}
	default:
		return nil, &node.RoleError{Msg: "this node is not part of a cluster: nothing to upgrade"}
	}
	d.nodeName = kubelet.NodeName(kubeDir)
	d.kubeletAtStart = kubelet.InstalledVersion(o.Env.Root)
	if d.cri = kubelet.RuntimeEndpoint(o.Env.Root.Path(layout.KubeletConfigPath)); d.cri == "" {
		d.cri = config.DefaultCRISocket
	}
	if !o.Plan && !o.DryRun {
		if err := d.restoreTakenAway(); err != nil {
			return nil, err
		}
	}
	if err := d.connect(ctx, kubeDir); err != nil {
		return nil, err
	}
	if o.Plan {
		return d, nil
	}
	return d, d.settleTarget()
}

// connect builds the client (admin.conf on a control plane, the kubelet's
// credentials on a worker) and reads the stored configuration.
func (d *Data) connect(ctx context.Context, kubeDir string) error {
	d.client = d.opts.Client
	if d.client == nil {
		conf := filepath.Join(kubeDir, layout.AdminConf)
		if !d.controlPlane {
			conf = filepath.Join(kubeDir, layout.KubeletConf)
		}
		c, err := apply.ClientFromFile(conf)
		if err != nil {
			return err
		}
		d.client = c
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	cluster, err := controlplane.DownloadConfig(ctx, d.client)
	if err != nil {
		return err
	}
	d.cluster = cluster
	return nil
}

// settleTarget checks the version change: one minor at a time, never a
// minor down.
func (d *Data) settleTarget() error {
	d.target = d.opts.Version
	if d.target == "" {
		if !d.opts.Node {
			return &phases.UsageError{Err: errors.New("upgrade apply needs the version to upgrade to, e.g. " +
				"`kubestrap upgrade apply v1.35.4` (`kubestrap upgrade plan` lists the ones installed)")}
		}
		d.target = d.cluster.KubernetesVersion
	}
	if err := config.CheckUpgrade(d.cluster.KubernetesVersion, d.target); err != nil {
		return &phases.UsageError{Err: fmt.Errorf("cannot upgrade: %w", err)}
	}
	if d.opts.Node && config.Newer(d.target, d.cluster.KubernetesVersion) {
		return fmt.Errorf("the cluster's configuration is at %s: run `kubestrap upgrade apply %s` on a control plane "+
			"first (upgrade node follows the cluster, it never leads it)", d.cluster.KubernetesVersion, d.target)
	}
	return nil
}

// DryRun says the run only checks and reports.
func (d *Data) DryRun() bool { return d.opts.DryRun }

// Target is the version this run upgrades to.
func (d *Data) Target() string { return d.target }

// From is where the run started: the cluster's stored version for apply,
// this node's kubelet for `upgrade node`.
func (d *Data) From() string {
	if d.opts.Node {
		return d.kubeletAtStart
	}
	return d.cluster.KubernetesVersion
}

// NodeName is this node's name.
func (d *Data) NodeName() string { return d.nodeName }

// ControlPlane says whether this node runs a control plane.
func (d *Data) ControlPlane() bool { return d.controlPlane }

// Client talks to the cluster.
func (d *Data) Client() kubernetes.Interface { return d.client }

// targetCluster is the stored configuration at the target version, with
// this run's API server arguments.
func (d *Data) targetCluster() *config.ClusterConfiguration {
	c := &config.ClusterConfiguration{}
	b, _ := json.Marshal(d.cluster) // a plain struct: Marshal cannot fail
	_ = json.Unmarshal(b, c)
	c.KubernetesVersion = d.target
	for _, a := range d.opts.APIServerExtraArgs {
		c.APIServer.ExtraArgs = setArg(c.APIServer.ExtraArgs, a)
	}
	return c
}

func setArg(args []config.Arg, a config.Arg) []config.Arg {
	for i := range args {
		if args[i].Name == a.Name {
			args[i].Value = a.Value
			return args
		}
	}
	return append(args, a)
}

// targetImages are the images of the target version.
func (d *Data) targetImages() (images.ImageSet, error) { return images.Images(d.targetCluster()) }

// localProbes are the health checks of this node's control plane.
func (d *Data) localProbes() ([]staticpods.Probe, error) {
	c, err := staticpods.ProbeConfig(d.ManifestDir())
	if err != nil {
		return nil, err
	}
	return staticpods.ControlPlaneProbes(c, d.HostPath(c.Cluster.CertificatesDir))
}

// interrupted lists the components an earlier run was upgrading when it
// stopped: their previous manifests are still kept in BackupDir.
func (d *Data) interrupted() []string {
	var out []string
	for _, c := range staticpods.Components() {
		if node.Exists(filepath.Join(d.BackupDir(), c+".yaml")) {
			out = append(out, c)
		}
	}
	return out
}

// restoreTakenAway puts back a manifest an earlier run had taken away
// when it was killed (before it wrote the new one): on a single control
// plane that was the API server this run must talk to. The component's
// step then upgrades it again.
func (d *Data) restoreTakenAway() error {
	for _, c := range d.interrupted() {
		path := staticpods.ManifestPath(d.ManifestDir(), c)
		if node.Exists(path) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d.BackupDir(), c+".yaml"))
		if err != nil {
			return err
		}
		if err := node.WriteFileAtomic(path, b, staticpods.ManifestMode); err != nil {
			return fmt.Errorf("put back the previous %s manifest an interrupted upgrade kept: %w", c, err)
		}
		fmt.Fprintf(d.Out(), "[upgrade] an earlier run stopped while it replaced %s: its previous manifest is back in %s\n", c, path)
	}
	return nil
}

// BackupDir keeps the manifests being replaced (kubeadm keeps its in
// /etc/kubernetes/tmp too).
func (d *Data) BackupDir() string {
	return d.HostPath(filepath.Join(layout.KubernetesDir, "tmp", "kubestrap-upgrade"))
}
