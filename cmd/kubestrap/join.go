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
	"github.com/kubestrap/kubestrap/hostfs"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

type joinFlags struct {
	configFile, token, tlsToken, discoveryFile, nodeName, nodeIP, criSocket, agentBinary string
	hashes, ignore, skip                                                                 []string
	unsafeSkipCA, dryRun, controlPlane                                                   bool
	certificateKey, advertiseAddress, output                                             string
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
	fs.StringVarP(&f.output, "output", "o", "", "json: print {changed, node, nodeIP, controlPlane, endpoint} on stdout (phase lines go to stderr)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "check and discover, write the node's files into a temp dir and print what "+
		"the online phases would do; change nothing on the host")
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

func newJoinCommand(out io.Writer) *cobra.Command {
	f := &joinFlags{}
	cmd := &cobra.Command{
		Use:   "join [API_ENDPOINT]",
		Short: "Join this node to a cluster as a worker",
		Example: "  kubestrap join 192.168.56.10:6443 --token abcdef.0123456789abcdef \\\n" +
			"    --discovery-token-ca-cert-hash sha256:<hash printed by kubestrap init>",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runJoin(cmd, f, args, "") },
	}
	f.register(cmd.PersistentFlags())
	cmd.Flags().StringSliceVar(&f.skip, "skip-phases", nil, "phases to skip, e.g. node-network (see `kubestrap join phase --help`)")
	phaseCmd := &cobra.Command{Use: "phase NAME", Short: "Run one phase of join", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runJoin(cmd, f, nil, args[0]) }}
	for _, p := range phases.JoinPhases() {
		phaseCmd.AddCommand(&cobra.Command{Use: p.Name + " [API_ENDPOINT]", Short: p.Short, Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return runJoin(cmd, f, args, p.Name) }})
	}
	addPhaseAliases(phaseCmd, "join", cobra.MaximumNArgs(1), func(cmd *cobra.Command, args []string, path string) error {
		return runJoin(cmd, f, args, path)
	})
	cmd.AddCommand(phaseCmd)
	return cmd
}

func runJoin(cmd *cobra.Command, f *joinFlags, args []string, only string) error {
	out := cmd.OutOrStdout()
	switch f.output {
	case "":
	case "json":
		out = cmd.ErrOrStderr() // stdout is only the JSON object
	default:
		return &usageError{fmt.Errorf("unknown output %q: use json", f.output)}
	}
	endpoint := ""
	if len(args) == 1 {
		endpoint = args[0]
	}
	fs := cmd.Flags()
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == "join" {
			fs = c.PersistentFlags()
		}
	}
	cfg, err := config.LoadJoin(f.configFile, f.apply(fs, endpoint))
	if err != nil {
		return err
	}
	warnConfig(cmd, cfg.Warnings)
	if err := config.ValidateNodeIP(f.nodeIP); err != nil {
		return &usageError{fmt.Errorf("--node-ip: %w", err)}
	}
	r := &phases.Runner{Command: "join", Phases: phases.JoinPhases(), Out: out, Skip: append(f.skip, cfg.SkipPhases...)}
	if err := r.ValidateSkip(); err != nil {
		return &usageError{err} // before anything is written
	}
	ignore := preflight.NewIgnoreSet(cfg.NodeRegistration.IgnorePreflightErrors...)
	opts := phases.JoinOptions{DryRun: f.dryRun, Ignore: ignore, Out: out, Env: preflight.Host(), Systemd: systemd.DBus{},
		AgentBinary: f.agentBinary, NodeIP: f.nodeIP, KubeDir: layout.KubernetesDir}
	if f.dryRun {
		if opts.DryRunDir, err = phases.NewDryRunDir(); err != nil {
			return err
		}
		defer fmt.Fprintf(out, "dry-run output: %s\n", opts.DryRunDir)
	} else {
		lock, err := hostfs.AcquireLock(hostfs.LockPath, "join")
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	data, err := phases.NewJoinData(cfg, opts)
	if err != nil {
		return err
	}
	changed := !f.dryRun
	if only == "" && !f.dryRun {
		done, err := phases.PrepareJoin(out, opts.KubeDir, data.NodeName(), cfg, ignore)
		if err != nil {
			return err
		}
		changed = !done
	}
	if changed || f.dryRun {
		if only != "" {
			err = r.RunPhase(cmd.Context(), only, data)
		} else {
			err = r.Run(cmd.Context(), data)
		}
		if err != nil {
			return err
		}
	}
	if f.output != "json" {
		return nil
	}
	return writeJSON(cmd.OutOrStdout(), joinResult(cmd.Context(), data, cfg, changed, f.dryRun))
}

// joinResult is join's JSON object (the JSON contract).
func joinResult(ctx context.Context, data phases.JoinData, cfg *config.JoinConfiguration, changed, dryRun bool) map[string]any {
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
