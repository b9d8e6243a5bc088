package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/joinflow"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

type joinFlags struct {
	configFile, token, tlsToken, discoveryFile, nodeName, nodeIP, criSocket, agentBinary string
	hashes, ignore                                                                       []string
	unsafeSkipCA, controlPlane                                                           bool
	certificateKey, advertiseAddress                                                     string
	bindPort                                                                             int32
	timeout                                                                              time.Duration
}

func (f *joinFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.configFile, "config", "", "path to a kubestrap JoinConfiguration file")
	fs.StringVar(&f.token, "token", "", "the bootstrap token for discovery and TLS bootstrap")
	fs.StringVar(&f.tlsToken, "tls-bootstrap-token", "", "a different token for TLS bootstrap (default: --token)")
	fs.StringSliceVar(&f.hashes, "discovery-token-ca-cert-hash", nil, "sha256:<hash> of the cluster CA's public key; repeat for several (all are honoured)")
	fs.BoolVar(&f.unsafeSkipCA, "discovery-token-unsafe-skip-ca-verification", false, "join without pinning the CA (an impostor could pose as the cluster)")
	fs.StringVar(&f.discoveryFile, "discovery-file", "", "a kubeconfig file or https URL to discover the cluster from")
	fs.StringVar(&f.nodeName, "node-name", "", "the Node name (default: the host name)")
	fs.StringVar(&f.nodeIP, "node-ip", "", "the node's IP (default: the source address of the route to the API endpoint)")
	fs.StringVar(&f.criSocket, "cri-socket", config.DefaultCRISocket, "the container runtime's CRI endpoint")
	fs.StringVar(&f.agentBinary, "agent-binary", "", "the kubelet to install (default: the one next to kubestrap)")
	fs.StringSliceVar(&f.ignore, "ignore-preflight-errors", nil, "preflight checks whose errors become warnings, or all")
	fs.DurationVar(&f.timeout, "discovery-timeout", config.DefaultDiscoveryTimeout, "how long discovery retries")
	fs.BoolVar(&f.controlPlane, "control-plane", false, "join as a control-plane node (stacked etcd); needs --certificate-key")
	fs.StringVar(&f.certificateKey, "certificate-key", "", "the key printed by `kubestrap init --upload-certs` (64 hex characters)")
	fs.StringVar(&f.advertiseAddress, "apiserver-advertise-address", "", "this control-plane node's API server address (default: the node IP)")
	fs.Int32Var(&f.bindPort, "apiserver-bind-port", config.DefaultAPIBindPort, "this control-plane node's API server port")
}

func (f *joinFlags) apply(fs *pflag.FlagSet, endpoint string) func(*config.JoinConfiguration) {
	return func(c *config.JoinConfiguration) {
		if endpoint != "" || fs.Changed("token") || fs.Changed("discovery-token-ca-cert-hash") {
			if c.Discovery.BootstrapToken == nil {
				c.Discovery.BootstrapToken = &config.BootstrapTokenDiscovery{}
			}
			bt := c.Discovery.BootstrapToken
			if endpoint != "" {
				bt.APIServerEndpoint = endpoint
			}
			if fs.Changed("token") {
				bt.Token = f.token
			}
			bt.CACertHashes = append(bt.CACertHashes, f.hashes...)
			bt.UnsafeSkipCAVerification = bt.UnsafeSkipCAVerification || f.unsafeSkipCA
		}
		if f.discoveryFile != "" {
			c.Discovery.File = &config.FileDiscovery{KubeConfigPath: f.discoveryFile}
		}
		if fs.Changed("tls-bootstrap-token") {
			c.Discovery.TLSBootstrapToken = f.tlsToken
		}
		if fs.Changed("discovery-timeout") {
			c.Discovery.Timeout = &metav1.Duration{Duration: f.timeout}
		}
		if fs.Changed("node-name") {
			c.NodeRegistration.Name = f.nodeName
		}
		if fs.Changed("cri-socket") {
			c.NodeRegistration.CRISocket = f.criSocket
		}
		c.NodeRegistration.IgnorePreflightErrors = append(c.NodeRegistration.IgnorePreflightErrors, f.ignore...)
		f.applyControlPlane(fs, c)
	}
}

func (f *joinFlags) applyControlPlane(fs *pflag.FlagSet, c *config.JoinConfiguration) {
	if !f.controlPlane && c.ControlPlane == nil {
		return
	}
	if c.ControlPlane == nil {
		c.ControlPlane = &config.JoinControlPlane{}
	}
	if fs.Changed("certificate-key") {
		c.ControlPlane.CertificateKey = f.certificateKey
	}
	if fs.Changed("apiserver-advertise-address") {
		c.ControlPlane.LocalAPIEndpoint.AdvertiseAddress = f.advertiseAddress
	}
	if fs.Changed("apiserver-bind-port") {
		c.ControlPlane.LocalAPIEndpoint.BindPort = f.bindPort
	}
}

func newJoinCommand(io.Writer) *cobra.Command {
	f := &joinFlags{}
	cmd := &cobra.Command{
		Use:   "join [API_ENDPOINT]",
		Short: "Join this node to a cluster as a worker",
		Example: "  kubestrap join 192.168.56.10:6443 --token abcdef.0123456789abcdef \\\n" +
			"    --discovery-token-ca-cert-hash sha256:<hash printed by kubestrap init>",
	}
	f.register(cmd.PersistentFlags())
	flow := &phases.Flow{Command: "join", Phases: joinflow.JoinPhases(), Aliases: joinflow.KubeadmAliases, Args: cobra.MaximumNArgs(1), ArgsUse: "[API_ENDPOINT]",
		DryRunDir: true, SkipExample: "node-network",
		DryRunHelp: "check and discover, write the node's files into a temp dir and print what " +
			"the online phases would do; change nothing on the host",
		OutputHelp: "json: print {changed, node, nodeIP, controlPlane, endpoint} on stdout (phase lines go to stderr)",
		Start:      func(inv *phases.Invocation) (*phases.Session, error) { return startJoin(inv, f) }}
	flow.BindToCommand(cmd)
	return cmd
}

// startJoin is join's data initializer: the configuration from the file,
// the flags and the endpoint argument, checked before anything is written.
func startJoin(inv *phases.Invocation, f *joinFlags) (*phases.Session, error) {
	endpoint := ""
	if len(inv.Args) == 1 {
		endpoint = inv.Args[0]
	}
	cfg, err := config.LoadJoin(f.configFile, f.apply(flagsOf(inv.Cmd, "join"), endpoint))
	if err != nil {
		return nil, err
	}
	warnConfig(inv.Cmd, cfg.Warnings)
	if err := config.ValidateNodeIP(f.nodeIP); err != nil {
		return nil, usage(fmt.Errorf("--node-ip: %w", err))
	}
	ignore := preflight.NewIgnoreSet(cfg.NodeRegistration.IgnorePreflightErrors...)
	s := &phases.Session{Skip: cfg.SkipPhases,
		Data: func() (phases.Data, error) {
			return joinflow.NewJoinData(cfg, joinflow.JoinOptions{DryRun: inv.DryRun, DryRunDir: inv.DryRunDir, Ignore: ignore,
				Out: inv.Out, Env: node.Real(), Systemd: systemd.DBus{}, AgentBinary: f.agentBinary, NodeIP: f.nodeIP})
		},
		Done: func(d phases.Data) (bool, error) {
			return joinflow.PrepareJoin(inv.Out, layout.KubernetesDir, d.(joinflow.JoinData).NodeName(), cfg, ignore)
		},
		Finish: func(d phases.Data, changed bool, err error) error {
			if err != nil || inv.JSON == nil {
				return err
			}
			return writeJSON(inv.JSON, joinResult(inv.Context(), d.(joinflow.JoinData), cfg, changed && !inv.DryRun, inv.DryRun))
		}}
	return s, nil
}

// joinResult is join's JSON object (the JSON contract).
func joinResult(ctx context.Context, data joinflow.JoinData, cfg *config.JoinConfiguration, changed, dryRun bool) map[string]any {
	res := map[string]any{"changed": changed, "node": data.NodeName(), "controlPlane": cfg.ControlPlane != nil}
	if dryRun {
		res["dryRun"] = true
	}
	if ip, err := data.NodeIP(ctx); err == nil {
		res["nodeIP"] = ip
	}
	if bt := cfg.Discovery.BootstrapToken; bt != nil && bt.APIServerEndpoint != "" {
		res["endpoint"] = bt.APIServerEndpoint
	}
	return res
}
