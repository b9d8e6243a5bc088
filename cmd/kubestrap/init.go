package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/initflow"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

func newInitCommand(io.Writer) *cobra.Command {
	f := &initFlags{}
	cmd := &cobra.Command{Use: "init", Short: "Set up the first control-plane node of a cluster"}
	// Persistent, so that `init phase ...` takes the same configuration flags.
	f.register(cmd.PersistentFlags())
	f.registerInitOnly(cmd.PersistentFlags())
	flow := &phases.Flow{Command: "init", Phases: initflow.InitPhases(), Aliases: initflow.KubeadmAliases, Args: cobra.NoArgs, DryRunDir: true,
		SkipExample: "addons/kube-proxy",
		DryRunHelp:  "run every offline phase into a temp dir and print what the online phases would do; change nothing on the host",
		OutputHelp:  "json: print the join information as JSON on stdout (phase lines go to stderr)",
		Start:       func(inv *phases.Invocation) (*phases.Session, error) { return startInit(inv, f) }}
	flow.BindToCommand(cmd)
	return cmd
}

// startInit is init's data initializer: the configuration from the file
// and flags, checked before anything is written.
func startInit(inv *phases.Invocation, f *initFlags) (*phases.Session, error) {
	overrides := func(c *config.Init) {
		f.apply(flagsOf(inv.Cmd, "init"))(c)
		// The release's own Kubernetes version, when neither the file nor a
		// flag names one: a v1.34 release makes a v1.34 cluster.
		if c.Cluster.KubernetesVersion == "" {
			c.Cluster.KubernetesVersion = kubelet.ReleaseVersion()
		}
	}
	cfg, err := config.LoadInit(initflow.InitConfigFile(f.configFile, inv.Only), overrides)
	if err != nil {
		return nil, err
	}
	warnConfig(inv.Cmd, cfg.Warnings)
	env := node.Real()
	ignore := preflight.NewIgnoreSet(cfg.NodeRegistration.IgnorePreflightErrors...)
	if unknown := ignore.Unknown(append(preflight.InitChecks(env, cfg), preflight.KubeletVersion(env, "", ""))); len(unknown) > 0 {
		return nil, usage(fmt.Errorf("--ignore-preflight-errors names unknown checks: %s (see `kubestrap preflight`)",
			strings.Join(unknown, ", ")))
	}
	s := &phases.Session{Skip: cfg.SkipPhases,
		Locked: func() error { return recoverParked(inv.Out, "init") },
		Data: func() (phases.Data, error) {
			return initflow.NewInitData(cfg, initflow.InitOptions{DryRun: inv.DryRun, DryRunDir: inv.DryRunDir, Ignore: ignore,
				Out: inv.Out, JSON: inv.JSON, Env: env, AgentBinary: f.agentBinary, Systemd: systemd.DBus{}})
		},
		Done: func(d phases.Data) (bool, error) {
			return initflow.PrepareInit(inv.Out, d.(initflow.InitData).KubernetesDir(), cfg, ignore)
		},
		Finish: func(d phases.Data, changed bool, err error) error {
			if err != nil || changed || inv.JSON == nil {
				return err
			}
			// A no-op init -o json answers with the join information,
			// "changed": false (the JSON contract: one object every run).
			info, err := initflow.InitializedJoinInfo(inv.Context(), d.(initflow.InitData))
			if err != nil {
				return err
			}
			return writeJSON(inv.JSON, info)
		}}
	return s, nil
}

// flagsOf returns the flag set that holds a flow's flags: the flow
// command's own, also when running as `<flow> phase ...`.
func flagsOf(cmd *cobra.Command, flow string) *pflag.FlagSet {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == flow {
			return c.PersistentFlags()
		}
	}
	return cmd.Flags()
}
