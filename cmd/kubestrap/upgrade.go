package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/upgradeflow"
	"github.com/kubestrap/kubestrap/systemd"
)

type upgradeFlags struct {
	certRenewal, etcdUpgrade, yes bool
	apiServerArgs                 []string
	version                       string
	timeout                       time.Duration
}

func newUpgradeCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "upgrade", Short: "Upgrade the cluster one minor version: plan, apply on a control plane, node on the others",
		Long: "upgrade carries a cluster to the next minor version as kubeadm's does: `upgrade plan` shows the versions and what\n" +
			"apply would do; `upgrade apply VERSION` on one control plane takes an etcd snapshot, renews the certificates,\n" +
			"replaces its static pods one at a time (each waited for, and rolled back to its previous manifest when it does\n" +
			"not become healthy), stores the configuration, updates the addons and switches its kubelet; `upgrade node` does\n" +
			"the same on every other node (drain a worker first). `kubestrap up` and the Ansible role drive all of it."}
	cmd.AddCommand(newUpgradePlanCommand(out), newUpgradeFlowCommand(false), newUpgradeFlowCommand(true))
	return cmd
}

func newUpgradePlanCommand(out io.Writer) *cobra.Command {
	var o *output
	cmd := &cobra.Command{Use: "plan [VERSION]", Short: "Show each node's and component's version, the installed releases and what apply would do",
		Args: cobra.MaximumNArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			opts := upgradeflow.Options{Plan: true, Out: o.progress(cmd), Env: node.Real()}
			if len(args) == 1 {
				opts.Version = args[0]
			}
			d, err := upgradeflow.NewData(cmd.Context(), opts)
			if err != nil {
				return err
			}
			p, err := upgradeflow.MakePlan(cmd.Context(), d, time.Now())
			if err != nil {
				return err
			}
			return o.print(cmd.OutOrStdout(), p, func() error { p.WriteText(out); return nil })
		}}
	o = addOutput(cmd.Flags(), "", "json: print the plan as one JSON object", "json")
	return cmd
}

// newUpgradeFlowCommand is `upgrade apply VERSION` or `upgrade node`.
func newUpgradeFlowCommand(nodeOnly bool) *cobra.Command {
	f := &upgradeFlags{}
	cmd := &cobra.Command{Use: "apply VERSION", Short: "Upgrade the cluster's configuration and this control plane to VERSION",
		Example: "  kubestrap upgrade apply v1.35.4 -y"}
	name, ps, args, use := "apply", upgradeflow.ApplyPhases(), cobra.ExactArgs(1), "VERSION"
	if nodeOnly {
		cmd = &cobra.Command{Use: "node", Short: "Upgrade this node (its static pods, then its kubelet) to the cluster's version"}
		name, ps, args, use = "node", upgradeflow.NodePhases(), cobra.NoArgs, ""
	}
	f.register(cmd.PersistentFlags(), nodeOnly)
	flow := &phases.Flow{Command: "upgrade " + name, Phases: ps, Aliases: upgradeflow.KubeadmAliases(nodeOnly),
		Args: args, ArgsUse: use, SkipExample: "addons/coredns",
		DryRunHelp: "check, and print what would change; change nothing",
		OutputHelp: "json: print {changed, node, from, to, controlPlane} on stdout (phase lines go to stderr)",
		Start:      func(inv *phases.Invocation) (*phases.Session, error) { return startUpgrade(inv, f, nodeOnly) }}
	flow.BindToCommand(cmd)
	return cmd
}

func (f *upgradeFlags) register(fs *pflag.FlagSet, nodeOnly bool) {
	fs.BoolVar(&f.certRenewal, "certificate-renewal", true, "renew the control plane's certificates")
	fs.BoolVar(&f.etcdUpgrade, "etcd-upgrade", true, "upgrade etcd")
	fs.DurationVar(&f.timeout, "timeout", 3*time.Minute, "how long each component may take to be healthy before it is rolled back")
	if nodeOnly {
		fs.StringVar(&f.version, "kubernetes-version", "", "the version to upgrade to (default: the cluster's)")
		return
	}
	fs.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation at a terminal")
	fs.StringSliceVar(&f.apiServerArgs, "apiserver-extra-args", nil, "NAME=VALUE flags for the API server, stored with "+
		"the cluster's configuration once it is healthy with them")
}

func (f *upgradeFlags) extraArgs() ([]config.Arg, error) {
	var out []config.Arg
	for _, a := range f.apiServerArgs {
		n, v, ok := strings.Cut(a, "=")
		n = strings.TrimPrefix(n, "--")
		if !ok || n == "" {
			return nil, usage(fmt.Errorf("--apiserver-extra-args %q: want NAME=VALUE", a))
		}
		out = append(out, config.Arg{Name: n, Value: v})
	}
	return out, nil
}

func startUpgrade(inv *phases.Invocation, f *upgradeFlags, nodeOnly bool) (*phases.Session, error) {
	extra, err := f.extraArgs()
	if err != nil {
		return nil, err
	}
	o := upgradeflow.Options{Node: nodeOnly, Version: f.version, DryRun: inv.DryRun, Out: inv.Out, Env: node.Real(),
		Systemd: systemd.DBus{}, CertificateRenewal: f.certRenewal, EtcdUpgrade: f.etcdUpgrade,
		APIServerExtraArgs: extra, Timeout: f.timeout}
	if !nodeOnly {
		o.Version = inv.Args[0]
		if _, err := config.ParseKubernetesVersion(o.Version); err != nil {
			return nil, usage(fmt.Errorf("VERSION: %w", err))
		}
	}
	var data *upgradeflow.Data
	return &phases.Session{
		Confirm: func() error { return confirmUpgrade(inv, f.yes || nodeOnly, o.Version) },
		Data: func() (phases.Data, error) {
			d, err := upgradeflow.NewData(inv.Context(), o)
			data = d
			return d, err
		},
		Done: upgradeflow.Done,
		Finish: func(_ phases.Data, changed bool, err error) error {
			if err == nil && inv.JSON == nil && data != nil && changed && !inv.DryRun {
				fmt.Fprintf(inv.Out, "[upgrade] SUCCESS: %s is at %s\n", data.NodeName(), data.Target())
			}
			if inv.JSON == nil || data == nil {
				return err
			}
			res := map[string]any{"changed": changed && !inv.DryRun, "node": data.NodeName(), "from": data.From(),
				"to": data.Target(), "controlPlane": data.ControlPlane()}
			if inv.DryRun {
				res["dryRun"] = true
			}
			if jerr := writeJSON(inv.JSON, res); jerr != nil && err == nil {
				err = jerr
			}
			return err
		}}, nil
}

// confirmUpgrade asks at a terminal before a whole apply, as kubeadm does.
func confirmUpgrade(inv *phases.Invocation, yes bool, version string) error {
	if inv.Only != "" || inv.DryRun || yes || !isTerminal(inv.Cmd.InOrStdin()) {
		return nil
	}
	if !confirm(inv.Cmd.InOrStdin(), inv.Out, "[upgrade] upgrade the cluster to "+version+"? [y/N]: ") {
		return errors.New("upgrade aborted: nothing was changed")
	}
	return nil
}
