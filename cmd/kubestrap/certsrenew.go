package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/renew"
	"github.com/kubestrap/kubestrap/systemd"
)

type renewFlags struct {
	within, validity time.Duration
	dryRun           bool
	output           *output
	certDir, kubeDir string
}

func newCertsRenewCommand() *cobra.Command {
	f := &renewFlags{}
	var names []string
	for _, t := range renew.Targets() {
		names = append(names, t.Name)
	}
	cmd := &cobra.Command{
		Use:   "renew all|NAME...",
		Short: "Renew this control-plane node's certificates and restart the static pods that use them",
		Long: "renew reissues leaf certificates and the kubeconfigs' client certificates from the CAs on disk, keeping\n" +
			"their subjects, names and usages, then restarts the static pods that use them through the kubelet and\n" +
			"waits until they are healthy. Names (kubeadm's): all, " + fmt.Sprint(names) + ".",
		Args:      cobra.ArbitraryArgs, // Select names what is missing, as a usage error
		ValidArgs: append([]string{renew.All}, names...),
		RunE:      func(cmd *cobra.Command, args []string) error { return runRenew(cmd, args, f) },
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.within, "expiring-within", 0, "renew only certificates that expire within this time, e.g. 720h (0: all named)")
	fl.DurationVar(&f.validity, "validity", 0, "lifetime of the new certificates (default: the cluster's certificateValidityPeriod)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list what would be renewed and restarted; change nothing")
	f.output = addOutput(fl, "", "json: print the report as one JSON object", "json")
	fl.StringVar(&f.certDir, "cert-dir", "", "where the PKI is (default: the cluster's certificatesDir)")
	fl.StringVar(&f.kubeDir, "kubeconfig-dir", layout.KubernetesDir, "where the kubeconfig files and manifests/ are")
	return cmd
}

func runRenew(cmd *cobra.Command, args []string, f *renewFlags) error {
	targets, err := renew.Select(args)
	if err != nil {
		return usage(err)
	}
	if f.validity != 0 && f.validity < time.Hour {
		return usage(fmt.Errorf("--validity %s: must be at least 1h", f.validity))
	}
	if err := f.output.check(); err != nil {
		return err
	}
	out := f.output.progress(cmd)
	if !f.dryRun {
		lock, err := node.AcquireLock(node.LockPath, "certs renew")
		if err != nil {
			return err
		}
		defer lock.Release()
		if err := recoverParked(out, "renew"); err != nil {
			return err
		}
	}
	s := renew.LoadSettings(cmd.Context(), f.kubeDir, f.certDir, f.validity, renew.AdminClient(f.kubeDir))
	s.WriteText(out)
	rep, err := renew.Run(cmd.Context(), targets, renew.Options{CertDir: s.CertDir, KubeDir: f.kubeDir,
		Validity: s.Validity, Within: f.within, DryRun: f.dryRun, Out: out, Now: time.Now,
		Wait: renew.HealthWait(out, s.CertDir, f.kubeDir, s.CRIEndpoint)})
	// The text report is the progress lines already printed.
	return f.output.printAfter(cmd.OutOrStdout(), rep, err, func() error { return nil })
}

func newAutoRenewCommand(out io.Writer) *cobra.Command {
	var certDir, kubeDir string
	auto := func() (renew.Auto, error) {
		self, err := os.Executable()
		return renew.Auto{Systemd: systemd.DBus{}, UnitDir: layout.SystemdUnitDir, Binary: self,
			CertDir: certDir, KubeDir: kubeDir}, err
	}
	run := func(fn func(renew.Auto, context.Context) (string, error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			a, err := auto()
			if err != nil {
				return err
			}
			msg, err := fn(a, cmd.Context())
			if err == nil {
				fmt.Fprintf(out, "[auto-renew] %s\n", msg)
			}
			return err
		}
	}
	cmd := &cobra.Command{Use: "auto-renew", Short: "Renew this control-plane node's certificates daily from a systemd timer"}
	enable := &cobra.Command{Use: "enable", Short: "Install and start the daily " + layout.RenewTimerUnit, Args: cobra.NoArgs,
		RunE: run(renew.Auto.Enable)}
	disable := &cobra.Command{Use: "disable", Short: "Stop the timer and remove its units", Args: cobra.NoArgs,
		RunE: run(renew.Auto.Disable)}
	var o *output
	status := &cobra.Command{Use: "status", Short: "Say whether auto-renewal is enabled, and its last and next run",
		Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := auto()
			if err != nil {
				return err
			}
			return printAutoStatus(cmd, a, o)
		}}
	o = addOutput(status.Flags(), "", "json: print the status as one JSON object", "json")
	cmd.PersistentFlags().StringVar(&certDir, "cert-dir", layout.PKIDir, "where enable looks for control-plane certificates")
	cmd.PersistentFlags().StringVar(&kubeDir, "kubeconfig-dir", layout.KubernetesDir, "where enable looks for control-plane kubeconfigs")
	cmd.AddCommand(enable, disable, status)
	return cmd
}

// printAutoStatus prints whether auto-renewal is enabled, and its last
// and next run.
func printAutoStatus(cmd *cobra.Command, a renew.Auto, o *output) error {
	if err := o.check(); err != nil {
		return err
	}
	s, err := a.Status(cmd.Context())
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	return o.print(out, s, func() error { s.WriteText(out); return nil })
}
