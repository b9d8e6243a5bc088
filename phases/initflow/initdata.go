package initflow

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/systemd"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/components/tokens"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/preflight"
)

// InitData is what init phases may use: the configuration, where files go,
// and the host. In dry-run every directory is inside a temp dir.
type InitData interface {
	Cfg() *config.Init
	DryRun() bool
	KubernetesDir() string
	CertDir() string
	ManifestDir() string
	KubeletDir() string
	Out() io.Writer
	Env() *node.Host
	Ignore() preflight.IgnoreSet
	// Client is a cluster-admin client from admin.conf.
	Client() (kubernetes.Interface, error)
	Systemd() systemd.Manager
	// AgentBinary is the bundled kubelet to install.
	AgentBinary() string
	// JSON, when not nil, receives show-join-command's JSON.
	JSON() io.Writer
	// HostPath maps a node path into the host root or the dry-run tree.
	HostPath(p string) string
	// Tokens are the configured bootstrap tokens with every empty one
	// filled in: with the token an earlier run of init made (found by its
	// description), else a new one. So `init phase bootstrap-token` then
	// `init phase show-join-command`, or a resumed init, use one token.
	Tokens(ctx context.Context) ([]config.BootstrapToken, error)
}

// InitOptions are the command-line inputs of init besides the config.
type InitOptions struct {
	DryRun      bool
	AgentBinary string
	Systemd     systemd.Manager
	JSON        io.Writer
	// DryRunDir is the temp dir that stands for / in dry-run.
	DryRunDir string
	Ignore    preflight.IgnoreSet
	Out       io.Writer
	// Env is the host; its Root is also where every file is written, so
	// tests point reads and writes at one fake tree.
	Env *node.Host
	// Client replaces the admin client from admin.conf (tests).
	Client kubernetes.Interface
}

type initData struct {
	phases.Base
	cfg  *config.Init
	opts InitOptions

	clientOnce sync.Once
	client     kubernetes.Interface
	clientErr  error

	tokensMu sync.Mutex
	tokens   []config.BootstrapToken
}

var _ InitData = (*initData)(nil)

// NewInitData completes the configuration from the host (node name from the
// host name, advertise address from the routes) and validates it again.
func NewInitData(cfg *config.Init, opts InitOptions) (InitData, error) {
	if cfg.NodeRegistration.Name == "" {
		name, err := node.DefaultName(opts.Env.Hostname)
		if err != nil {
			return nil, err
		}
		cfg.NodeRegistration.Name = name
	}
	if cfg.LocalAPIEndpoint.AdvertiseAddress == "" {
		choice, err := node.DetectAdvertiseAddress(opts.Env)
		if err != nil {
			return nil, err
		}
		cfg.LocalAPIEndpoint.AdvertiseAddress = choice.Addr.String()
		fmt.Fprintf(opts.Out, "[init] advertise address %s: %s\n", choice.Addr, choice.Note)
	}
	if err := config.ValidateInit(cfg); err != nil {
		return nil, err
	}
	if err := checkOwnDirs(cfg); err != nil {
		return nil, err
	}
	for i := range cfg.BootstrapTokens {
		if t := &cfg.BootstrapTokens[i]; t.Token == "" && t.Description == "" {
			t.Description = InitTokenDescription
			if i > 0 {
				t.Description += fmt.Sprintf(" (#%d)", i+1)
			}
		}
	}
	return &initData{Base: phases.NewBase(phases.Host{DryRun: opts.DryRun, DryRunDir: opts.DryRunDir, Out: opts.Out,
		Env: opts.Env, Systemd: opts.Systemd, Ignore: opts.Ignore, AgentBinary: opts.AgentBinary}), cfg: cfg, opts: opts}, nil
}

func (d *initData) Cfg() *config.Init { return d.cfg }

// CertDir is the configured certificatesDir, or pki/ of the dry-run tree.
func (d *initData) CertDir() string {
	if d.opts.DryRun {
		return filepath.Join(d.KubernetesDir(), layout.PKISubdir)
	}
	return d.HostPath(d.cfg.Cluster.CertificatesDir)
}

// placeholderInit is a defaulted config used only to list phase names.
func placeholderInit() *config.Init {
	c := &config.Init{}
	config.SetInitDefaults(c)
	return c
}

func (d *initData) JSON() io.Writer { return d.opts.JSON }

// Client builds the admin client once. admin.conf's group has rights only
// through a ClusterRoleBinding that super-admin.conf (system:masters)
// creates first, as kubeadm does.
func (d *initData) Client() (kubernetes.Interface, error) {
	d.clientOnce.Do(func() {
		if d.opts.Client != nil {
			d.client = d.opts.Client
			return
		}
		super, err := apply.ClientFromFile(filepath.Join(d.KubernetesDir(), layout.SuperAdminConf))
		if err != nil {
			d.clientErr = err
			return
		}
		// The first call goes through the control-plane endpoint: a load
		// balancer sends nothing to an API server until its health check
		// has seen it ready, a second or two after it is: retry, as kubeadm
		// retries its first API calls.
		s := poll.Spec{What: "the API server at " + certs.ClusterServer(d.cfg) + " to accept the first request",
			Interval: 250 * time.Millisecond, Timeout: phases.APITimeout, Out: d.opts.Out, Prefix: "init"}
		err = poll.Until(context.Background(), s, func(ctx context.Context) (bool, error) {
			err := controlplane.EnsureClusterAdmins(ctx, super)
			return err == nil, err
		})
		if err != nil {
			d.clientErr = fmt.Errorf("bind %s to cluster-admin: %w", certs.AdminGroup, err)
			return
		}
		admin, err := apply.ClientFromFile(filepath.Join(d.KubernetesDir(), layout.AdminConf))
		if err != nil {
			d.clientErr = err
			return
		}
		// The API server authorizes from a cache of the RBAC objects: a
		// binding just made may not count for a moment yet (a request then
		// is Forbidden). Wait until admin.conf may act.
		s.What = "the API server to authorize admin.conf through " + controlplane.ClusterAdminsBinding
		err = poll.Until(context.Background(), s, func(ctx context.Context) (bool, error) {
			return controlplane.AdminAllowed(ctx, admin)
		})
		if err != nil {
			d.clientErr = err
			return
		}
		d.client = admin
	})
	return d.client, d.clientErr
}

// clientFromFile makes a clientset with limits high enough that creating
// init's objects concurrently is not throttled client-side.
// InitTokenDescription marks the token init generates, so that a resumed
// init finds it instead of making another.
const InitTokenDescription = "The default bootstrap token generated by 'kubestrap init'."

func (d *initData) Tokens(ctx context.Context) ([]config.BootstrapToken, error) {
	d.tokensMu.Lock()
	defer d.tokensMu.Unlock()
	if d.tokens != nil {
		return d.tokens, nil
	}
	out := append([]config.BootstrapToken(nil), d.cfg.BootstrapTokens...)
	for i := range out {
		if out[i].Token != "" {
			continue
		}
		tok, err := d.existingToken(ctx, out[i].Description)
		if err != nil {
			return nil, err
		}
		if tok == "" {
			if tok, err = bootstraputil.GenerateBootstrapToken(); err != nil {
				return nil, err
			}
		}
		out[i].Token = tok
	}
	d.tokens = out
	return out, nil
}

// existingToken finds the token an earlier run made; a dry run, which has
// no cluster, always makes a new one.
func (d *initData) existingToken(ctx context.Context, desc string) (string, error) {
	if d.opts.DryRun {
		return "", nil
	}
	c, err := d.Client()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, phases.APITimeout)
	defer cancel()
	tok, _, err := tokens.FindByDescription(ctx, c, desc, time.Now())
	return tok, err
}

// checkOwnDirs refuses an etcd data dir or certificates dir that is a
// shared system directory (/var/lib, /home/admin, /etc/kubernetes): reset
// removes kubestrap's entries there, and data of others must never be
// mistaken for etcd's.
func checkOwnDirs(cfg *config.Init) error {
	if l := cfg.Cluster.Etcd.Local; l != nil && l.DataDir != "" {
		if err := cleanup.CheckDataDir(l.DataDir); err != nil {
			return fmt.Errorf("etcd.local.dataDir: %w", err)
		}
	}
	if d := cfg.Cluster.CertificatesDir; d != "" {
		if err := cleanup.CheckDataDir(d); err != nil {
			return fmt.Errorf("certificatesDir: %w", err)
		}
	}
	return nil
}
