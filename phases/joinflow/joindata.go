package joinflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

// JoinData is what join phases may use. As in kubeadm's phases/join, what
// an earlier phase would have found is fetched on first use and cached, so
// every phase also runs alone (`kubestrap join phase kubelet-start`).
type JoinData interface {
	Cfg() *config.JoinConfiguration
	DryRun() bool
	Out() io.Writer
	Env() *node.Host
	Ignore() preflight.IgnoreSet
	Systemd() systemd.Manager
	AgentBinary() string
	// KubernetesDir and KubeletDir are /etc/kubernetes and /var/lib/kubelet,
	// or their stand-ins inside the dry-run dir.
	KubernetesDir() string
	ManifestDir() string
	KubeletDir() string
	// HostPath maps a node path into the dry-run dir in a dry run.
	HostPath(p string) string
	NodeName() string
	// Start is when this join began, for the "N s after join started" lines.
	Start() time.Time
	// ClusterInfo discovers and verifies the cluster (once).
	ClusterInfo(ctx context.Context) (*join.ClusterInfo, error)
	// BootstrapClient authenticates with the TLS bootstrap token.
	BootstrapClient(ctx context.Context) (kubernetes.Interface, error)
	// ClusterConfig is the ClusterConfiguration that init uploaded.
	ClusterConfig(ctx context.Context) (*config.ClusterConfiguration, error)
	// NodeIP is --node-ip, or the source address of the route to the API.
	NodeIP(ctx context.Context) (string, error)
	// KubeletClient uses the node's own credentials (after TLS bootstrap).
	KubeletClient() (kubernetes.Interface, error)
	// ControlPlaneInit is, for a control-plane join, this node's
	// configuration as a control plane: the cluster's ClusterConfiguration
	// with this node's name and API endpoint.
	ControlPlaneInit(ctx context.Context) (*config.Init, error)
	// AdminClient uses the admin.conf a control-plane join writes.
	AdminClient() (kubernetes.Interface, error)
}

// JoinOptions are join's inputs besides its configuration.
type JoinOptions struct {
	DryRun bool
	// DryRunDir stands for / in a dry run.
	DryRunDir   string
	Ignore      preflight.IgnoreSet
	Out         io.Writer
	Env         *node.Host
	Systemd     systemd.Manager
	AgentBinary string
	// NodeIP overrides the address detected from the route to the API.
	NodeIP string
	// BootstrapClient and KubeletClient replace the clients built from the
	// token and from kubelet.conf (tests).
	BootstrapClient kubernetes.Interface
	KubeletClient   kubernetes.Interface
	AdminClient     kubernetes.Interface
	// Discover replaces token discovery in tests; nil means the real one.
	Discover func(ctx context.Context) (*join.ClusterInfo, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

type joinData struct {
	phases.Base
	cfg   *config.JoinConfiguration
	opts  JoinOptions
	start time.Time

	// Join's phases run one at a time; the mutex only keeps ClusterInfo
	// safe for a caller that asks from several goroutines.
	mu      sync.Mutex
	info    *join.ClusterInfo
	cluster *config.ClusterConfiguration
	nodeIP  string
	cpInit  *config.Init
}

var _ JoinData = (*joinData)(nil)

// NewJoinData completes the configuration from the host (the node name)
// and validates it.
func NewJoinData(cfg *config.JoinConfiguration, opts JoinOptions) (JoinData, error) {
	if cfg.NodeRegistration.Name == "" {
		name, err := node.DefaultName(opts.Env.Hostname)
		if err != nil {
			return nil, err
		}
		cfg.NodeRegistration.Name = name
		if err := config.ValidateJoin(cfg); err != nil {
			return nil, err
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &joinData{Base: phases.NewBase(phases.Host{DryRun: opts.DryRun, DryRunDir: opts.DryRunDir, Out: opts.Out,
		Env: opts.Env, Systemd: opts.Systemd, Ignore: opts.Ignore, AgentBinary: opts.AgentBinary}),
		cfg: cfg, opts: opts, start: opts.Now()}, nil
}

func (d *joinData) Cfg() *config.JoinConfiguration { return d.cfg }
func (d *joinData) NodeName() string               { return d.cfg.NodeRegistration.Name }
func (d *joinData) Start() time.Time               { return d.start }

func (d *joinData) ClusterInfo(ctx context.Context) (*join.ClusterInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.info != nil {
		return d.info, nil
	}
	info, err := d.discover(ctx)
	if err != nil {
		return nil, err
	}
	d.info = info
	return info, nil
}

func (d *joinData) discover(ctx context.Context) (*join.ClusterInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Discovery.Timeout.Duration)
	defer cancel()
	if d.opts.Discover != nil {
		return d.opts.Discover(ctx)
	}
	if f := d.cfg.Discovery.File; f != nil {
		info, token, err := join.FileDiscovery(ctx, f.KubeConfigPath)
		if err != nil {
			return nil, err
		}
		if d.cfg.Discovery.TLSBootstrapToken == "" {
			d.cfg.Discovery.TLSBootstrapToken = token
		}
		if d.cfg.Discovery.TLSBootstrapToken == "" {
			return nil, errors.New("the discovery file has no token for TLS bootstrap: pass --tls-bootstrap-token")
		}
		return info, nil
	}
	bt := d.cfg.Discovery.BootstrapToken
	if bt == nil {
		return nil, errors.New("no discovery method: pass API_ENDPOINT --token T --discovery-token-ca-cert-hash H, or --discovery-file")
	}
	disc := &join.Discoverer{Endpoint: bt.APIServerEndpoint, Token: bt.Token, Pins: bt.CACertHashes,
		SkipCA: bt.UnsafeSkipCAVerification, UnknownGrace: 20 * time.Second, Now: d.opts.Now, Progress: d.opts.Out,
		Warn: func(s string) { fmt.Fprintln(d.opts.Out, "[discovery] WARNING "+s) }}
	return disc.Discover(ctx)
}

func (d *joinData) BootstrapClient(ctx context.Context) (kubernetes.Interface, error) {
	if d.opts.BootstrapClient != nil {
		return d.opts.BootstrapClient, nil
	}
	info, err := d.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	rc := &rest.Config{Host: info.Server, BearerToken: d.cfg.Discovery.TLSBootstrapToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: info.CAPEM}, Timeout: 10 * time.Second}
	return kubernetes.NewForConfig(rc)
}

func (d *joinData) ClusterConfig(ctx context.Context) (*config.ClusterConfiguration, error) {
	if d.cluster != nil {
		return d.cluster, nil
	}
	// Nodes may read it too: after TLS bootstrap no token is needed.
	c, err := d.KubeletClient()
	if err != nil {
		if c, err = d.BootstrapClient(ctx); err != nil {
			return nil, err
		}
	}
	cluster, err := controlplane.DownloadConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	d.cluster = cluster
	return cluster, nil
}

func (d *joinData) NodeIP(ctx context.Context) (string, error) {
	if d.nodeIP != "" {
		return d.nodeIP, nil
	}
	if d.opts.NodeIP != "" {
		d.nodeIP = d.opts.NodeIP
		return d.nodeIP, nil
	}
	// A control plane's kubelet registers the address its API server
	// advertises, so that etcd peers and the balancer find it there.
	if cp := d.cfg.ControlPlane; cp != nil && cp.LocalAPIEndpoint.AdvertiseAddress != "" {
		d.nodeIP = cp.LocalAPIEndpoint.AdvertiseAddress
		return d.nodeIP, nil
	}
	endpoint, err := d.apiEndpoint(ctx)
	if err != nil {
		return "", err
	}
	ip, err := join.RouteSourceIP(endpoint)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(d.opts.Out, "[join] node IP %s (the source address of the route to %s; --node-ip overrides)\n", ip, endpoint)
	d.nodeIP = ip
	return ip, nil
}

// apiEndpoint is host:port of the API server the node joins: the token
// discovery endpoint, or the server of the node's kubeconfig, or (last) the
// discovered server.
func (d *joinData) apiEndpoint(ctx context.Context) (string, error) {
	if bt := d.cfg.Discovery.BootstrapToken; bt != nil && bt.APIServerEndpoint != "" {
		return bt.APIServerEndpoint, nil
	}
	if server, err := kubeconfigServer(filepath.Join(d.KubernetesDir(), layout.KubeletConf)); err == nil {
		if ep, err := config.EndpointOf(server); err == nil {
			return ep.String(), nil
		}
	}
	info, err := d.ClusterInfo(ctx)
	if err != nil {
		return "", err
	}
	ep, err := config.EndpointOf(info.Server)
	return ep.String(), err
}

func (d *joinData) KubeletClient() (kubernetes.Interface, error) {
	if d.opts.KubeletClient != nil {
		return d.opts.KubeletClient, nil
	}
	path := filepath.Join(d.KubernetesDir(), layout.KubeletConf)
	c, err := apply.ClientFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (run `kubestrap join phase tls-bootstrap` first)",
			phases.ErrNeedsEarlierPhase, err)
	}
	return c, nil
}

// kubeconfigServer is the server of a kubeconfig's current context.
func kubeconfigServer(path string) (string, error) {
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return "", err
	}
	if ctx, ok := kc.Contexts[kc.CurrentContext]; ok {
		if c, ok := kc.Clusters[ctx.Cluster]; ok {
			return c.Server, nil
		}
	}
	return "", fmt.Errorf("%s has no cluster in its current context", path)
}

func (d *joinData) ControlPlaneInit(ctx context.Context) (*config.Init, error) {
	if d.cpInit != nil {
		return d.cpInit, nil
	}
	cp := d.cfg.ControlPlane
	if cp == nil {
		return nil, errors.New("not a control-plane join: pass --control-plane")
	}
	cluster, err := d.ClusterConfig(ctx)
	if err != nil {
		return nil, err
	}
	adv, err := d.NodeIP(ctx)
	if err != nil {
		return nil, err
	}
	ic := &config.Init{Cluster: *cluster}
	ic.NodeRegistration = d.cfg.NodeRegistration
	ic.LocalAPIEndpoint = cp.LocalAPIEndpoint
	ic.LocalAPIEndpoint.AdvertiseAddress = adv
	if ic.LocalAPIEndpoint.BindPort == 0 {
		ic.LocalAPIEndpoint.BindPort = config.DefaultAPIBindPort
	}
	d.cpInit = ic
	return ic, nil
}

func (d *joinData) AdminClient() (kubernetes.Interface, error) {
	if d.opts.AdminClient != nil {
		return d.opts.AdminClient, nil
	}
	c, err := apply.ClientFromFile(filepath.Join(d.KubernetesDir(), layout.AdminConf))
	if err != nil {
		return nil, fmt.Errorf("%w: %v (run `kubestrap join phase control-plane-prepare/kubeconfig` first)", phases.ErrNeedsEarlierPhase, err)
	}
	return c, nil
}
