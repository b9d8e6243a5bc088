package resetflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/staticpods"
	"github.com/kubestrap/kubestrap/systemd"
)

// ResetData is what reset phases may use. What the node was (its name,
// role, etcd member, data dir) is read from the node on first use and
// cached, so every phase also runs alone; a reset reads the real host also
// in a dry run, and then changes nothing.
type ResetData interface {
	DryRun() bool
	// Force resets the node even when its etcd member cannot be removed
	// safely (no quorum, no member answers).
	Force() bool
	Out() io.Writer
	Env() *node.Host
	Systemd() systemd.Manager
	// HostPath maps a node path into the host root.
	HostPath(p string) string
	// Report collects what the phases removed and left.
	Report() *cleanup.Report
	NodeName() string
	// Client is admin.conf's client (on a control-plane node), else
	// kubelet.conf's; an error when neither exists. Callers treat it as
	// best effort: the API server may be gone.
	Client() (kubernetes.Interface, error)
	// LocalEtcd is this node's etcd member as its static pod manifest
	// describes it; nil when the node runs none.
	LocalEtcd() (*staticpods.LocalEtcd, error)
	// EtcdClient connects to the etcd cluster of LocalEtcd through every
	// member the manifest knows, with the node's etcd client certificate.
	EtcdClient(ctx context.Context) (EtcdCluster, error)
	// EtcdDataDir is the etcd data dir: the manifest's, else the recorded
	// configuration's, else the default.
	EtcdDataDir() string
	// CertDir is the certificates dir (normally /etc/kubernetes/pki).
	CertDir() string
	// CRIEndpoint is the runtime the kubelet used.
	CRIEndpoint() string
	// CNIConfDir is where the runtime reads CNI network configs.
	CNIConfDir() string
	// ServiceSubnet is the recorded Service CIDR(s), else the default.
	ServiceSubnet() string
	// Close closes the etcd client.
	Close()
}

// EtcdCluster is the part of clientv3 reset uses: membership, member
// status, and pointing the client at chosen members. *clientv3.Client has
// it; tests fake it.
type EtcdCluster interface {
	clientv3.Cluster
	Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error)
	SetEndpoints(endpoints ...string)
}

var _ EtcdCluster = (*clientv3.Client)(nil)

// ResetOptions are reset's inputs.
type ResetOptions struct {
	DryRun, Force bool
	Out           io.Writer
	Env           *node.Host
	Systemd       systemd.Manager
	// CRISocket overrides the runtime endpoint read from the kubelet's
	// configuration.
	CRISocket string
	// Client replaces the client from admin.conf or kubelet.conf (tests).
	Client kubernetes.Interface
	// EtcdClient replaces clientv3 (tests).
	EtcdClient func(endpoints []string, files etcd.TLSFiles) (EtcdCluster, error)
}

type resetData struct {
	phases.Base
	opts   ResetOptions
	report *cleanup.Report

	mu       sync.Mutex
	nodeName string
	record   *config.Init
	recordOK bool
	local    *staticpods.LocalEtcd
	localOK  bool
	localErr error
	etcd     EtcdCluster
}

var _ ResetData = (*resetData)(nil)

// NewResetData makes reset's data; nothing is read until a phase asks.
func NewResetData(opts ResetOptions) ResetData {
	// A dry run of reset reads the real host (it writes nothing), so its
	// base maps paths into the host root.
	return &resetData{Base: phases.NewBase(phases.Host{Out: opts.Out, Env: opts.Env, Systemd: opts.Systemd}),
		opts: opts, report: &cleanup.Report{DryRun: opts.DryRun}}
}

func (d *resetData) DryRun() bool             { return d.opts.DryRun }
func (d *resetData) Force() bool              { return d.opts.Force }
func (d *resetData) Report() *cleanup.Report  { return d.report }
func (d *resetData) ControlPlane() bool       { return node.RoleAt(d.KubernetesDir()) == node.ControlPlane }
func (d *resetData) kubePath(f string) string { return filepath.Join(d.KubernetesDir(), f) }

// initRecord is the configuration a finished init recorded; nil on other
// nodes or when it does not read.
func (d *resetData) initRecord() *config.Init {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.recordOK {
		d.recordOK = true
		if docs, err := config.ReadFile(d.kubePath(layout.InitRecord)); err == nil {
			if c, err := config.InitFrom(docs); err == nil {
				config.SetInitDefaults(c)
				d.record = c
			}
		}
	}
	return d.record
}

// NodeName is init's recorded node name, join's, the kubelet's
// --hostname-override, or else the host name.
func (d *resetData) NodeName() string {
	if rec := d.initRecord(); rec != nil && rec.NodeRegistration.Name != "" {
		return rec.NodeRegistration.Name
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nodeName != "" {
		return d.nodeName
	}
	if b, err := os.ReadFile(d.kubePath(layout.JoinRecord)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "node: "); ok {
				d.nodeName = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile(d.HostPath(filepath.Join(layout.KubeletDir, layout.KubeletFlagsFile))); err == nil && d.nodeName == "" {
		for _, f := range strings.Fields(strings.Trim(strings.TrimSpace(string(b)), `"`)) {
			if v, ok := strings.CutPrefix(f, "--hostname-override="); ok {
				d.nodeName = strings.Trim(v, `"`)
			}
		}
	}
	if d.nodeName == "" {
		d.nodeName, _ = node.DefaultName(d.opts.Env.Hostname)
	}
	return d.nodeName
}

func (d *resetData) Client() (kubernetes.Interface, error) {
	if d.opts.Client != nil {
		return d.opts.Client, nil
	}
	for _, f := range []string{layout.AdminConf, layout.KubeletConf} {
		if p := d.kubePath(f); d.opts.Env.Root.Exists(filepath.Join(layout.KubernetesDir, f)) {
			return apply.ClientFromFile(p)
		}
	}
	return nil, fmt.Errorf("neither %s nor %s is on this node", layout.AdminConfPath, layout.KubeletConfPath)
}

func (d *resetData) LocalEtcd() (*staticpods.LocalEtcd, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.localOK {
		d.localOK = true
		d.local, d.localErr = staticpods.ReadLocalEtcd(staticpods.ManifestPath(d.kubePath(layout.ManifestsSubdir), staticpods.Etcd), d.opts.Env.Root)
	}
	return d.local, d.localErr
}

func (d *resetData) EtcdClient(_ context.Context) (EtcdCluster, error) {
	le, err := d.LocalEtcd()
	if err != nil || le == nil {
		return nil, errors.Join(err, errors.New("this node runs no etcd member"))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.etcd != nil {
		return d.etcd, nil
	}
	files := le.HostTLS(d.opts.Env.Root)
	if d.opts.EtcdClient != nil {
		d.etcd, err = d.opts.EtcdClient(le.Endpoints, files)
	} else {
		d.etcd, err = etcd.Client(le.Endpoints, files)
	}
	return d.etcd, err
}

func (d *resetData) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.etcd.(io.Closer); ok {
		_ = c.Close()
	}
}

func (d *resetData) EtcdDataDir() string {
	if le, _ := d.LocalEtcd(); le != nil && le.DataDir != "" {
		return le.DataDir
	}
	if rec := d.initRecord(); rec != nil && rec.Cluster.Etcd.Local != nil && rec.Cluster.Etcd.Local.DataDir != "" {
		return rec.Cluster.Etcd.Local.DataDir
	}
	return config.DefaultEtcdDataDir
}

func (d *resetData) CertDir() string {
	if rec := d.initRecord(); rec != nil && rec.Cluster.CertificatesDir != "" {
		return rec.Cluster.CertificatesDir
	}
	return layout.PKIDir
}

func (d *resetData) CRIEndpoint() string {
	if d.opts.CRISocket != "" {
		return d.opts.CRISocket
	}
	if ep := kubelet.RuntimeEndpoint(d.opts.Env.Root.Path(layout.KubeletConfigPath)); ep != "" {
		return ep
	}
	if rec := d.initRecord(); rec != nil && rec.NodeRegistration.CRISocket != "" {
		return rec.NodeRegistration.CRISocket
	}
	return config.DefaultCRISocket
}

func (d *resetData) CNIConfDir() string {
	if c, err := preflight.ReadContainerdConfig(d.opts.Env); err == nil && c.CNIConfDir != "" {
		return c.CNIConfDir
	}
	return "/etc/cni/net.d"
}

func (d *resetData) ServiceSubnet() string {
	if r := d.initRecord(); r != nil && r.Cluster.Networking.ServiceSubnet != "" {
		return r.Cluster.Networking.ServiceSubnet
	}
	return config.DefaultServiceSubnet
}
