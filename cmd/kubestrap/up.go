package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/fleet"
)

type fleetFlags struct {
	file, kubeconfig      string
	output                *output
	acceptNew, force, yes bool
	concurrency           int
}

func newUpCommand(out io.Writer) *cobra.Command {
	f := &fleetFlags{}
	cmd := &cobra.Command{
		Use:   "up -f cluster.yaml",
		Short: "Bring up a whole cluster over SSH from a Cluster file: install, init, joins (idempotent)",
		Long: "up installs the release on every host of the Cluster file over SSH (host keys verified against\n" +
			"known_hosts), makes the OS fixes, runs init on the first control plane, joins the other control planes\n" +
			"one at a time and the workers at once, waits for every node to be Ready and writes the admin kubeconfig.\n" +
			"A second up changes nothing; a host added to the file is the only one joined. Given a release of the next\n" +
			"Kubernetes minor, up upgrades the cluster: `upgrade apply` on the first control plane, `upgrade node` on the\n" +
			"others one at a time, then the workers --concurrency at a time, each drained first and uncordoned after.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runFleet(cmd, f, fleet.Up) },
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "where to write the admin kubeconfig (default: NAME.admin.conf beside the Cluster file)")
	cmd.Flags().IntVar(&f.concurrency, "concurrency", 1, "how many workers an upgrade drains and upgrades at once")
	return cmd
}

func newDownCommand(out io.Writer) *cobra.Command {
	f := &fleetFlags{}
	cmd := &cobra.Command{
		Use:   "down -f cluster.yaml",
		Short: "Reset every host of a Cluster file over SSH: workers first, the first control plane last",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := confirmDown(cmd, f); err != nil {
				return err
			}
			return runFleet(cmd, f, fleet.Down)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.force, "force", false, "reset hosts even when their etcd member cannot be removed")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "do not ask before resetting every host")
	return cmd
}

func (f *fleetFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "the Cluster file (apiVersion kubestrap.io/v1alpha1, kind Cluster)")
	f.output = addOutput(cmd.Flags(), "", "json: print the report as one JSON object (progress lines go to stderr)", "json")
	cmd.Flags().BoolVar(&f.acceptNew, "accept-new-host-keys", false,
		"record the keys of hosts not yet in known_hosts (OpenSSH's accept-new); a changed key is always refused")
}

type fleetFunc func(ctx context.Context, c *fleet.Cluster, o fleet.Options) (*fleet.Report, error)

func runFleet(cmd *cobra.Command, f *fleetFlags, do fleetFunc) error {
	if f.file == "" {
		return usage(fmt.Errorf("-f is required: the Cluster file (see kubestrap up --help)"))
	}
	if err := f.output.check(); err != nil {
		return err
	}
	c, err := fleet.Load(f.file)
	if err != nil {
		return usage(err)
	}
	progress := f.output.progress(cmd)
	kubeconfig := f.kubeconfig
	if kubeconfig == "" && cmd.Name() == "up" {
		kubeconfig = fleet.DefaultKubeconfig(c, f.file)
	}
	rep, err := do(cmd.Context(), c, fleet.Options{AcceptNewHostKeys: f.acceptNew, Force: f.force, Kubeconfig: kubeconfig, Out: progress,
		Concurrency: f.concurrency})
	if err != nil {
		rep.Error = err.Error()
	}
	return f.output.printAfter(cmd.OutOrStdout(), rep, err, func() error { rep.WriteText(progress); return nil })
}

// confirmDown asks before down resets every host of the file, unless
// --yes; without a terminal to ask at, --yes is required.
func confirmDown(cmd *cobra.Command, f *fleetFlags) error {
	if f.yes || f.file == "" {
		return nil
	}
	if !isTerminal(cmd.InOrStdin()) {
		return usage(errors.New("down resets every host of " + f.file + " and asks first; " +
			"without a terminal pass --yes"))
	}
	if !confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), "[down] down resets every host of "+f.file+
		" (kubestrap reset on each).\n[down] Are you sure you want to proceed? [y/N]: ") {
		return errors.New("down aborted: nothing was changed")
	}
	return nil
}
