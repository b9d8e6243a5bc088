package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

// preflightFlags are init's configuration flags and preflight's own.
type preflightFlags struct {
	initFlags
	output *output
	fix    bool
	dryRun bool
}

func newPreflightCommand(out io.Writer) *cobra.Command {
	f := &preflightFlags{}
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Run init's preflight checks and print a table (or JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPreflight(cmd, out, f)
		},
	}
	f.register(cmd.Flags())
	f.output = addOutput(cmd.Flags(), "table", "output format: table or json", "table", "json")
	cmd.Flags().BoolVar(&f.fix, "fix", false, "make the standard fixes first: containerd's CRI plugin, cgroup driver and "+
		"sandbox image; br_netfilter and overlay; sysctls; swap off")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "with --fix: print the fixes without making them")
	return cmd
}

// runPreflight loads init's configuration, makes the fixes (with --fix),
// runs init's checks and prints them; it fails when a check failed.
func runPreflight(cmd *cobra.Command, out io.Writer, f *preflightFlags) error {
	if err := f.output.check(); err != nil {
		return err
	}
	cfg, err := config.LoadInit(f.configFile, f.apply(cmd.Flags()))
	if err != nil {
		return err
	}
	env := node.Real()
	var fixes []preflight.Fix
	if f.fix {
		if !f.dryRun {
			// Two --fix runs at once (an init beside, or Ansible
			// retrying) would edit containerd's config together.
			lock, err := node.AcquireLock(node.LockPath, "preflight --fix")
			if err != nil {
				return err
			}
			defer lock.Release()
		}
		if fixes, err = preflightFixes(cmd, out, f, env, cfg); err != nil {
			return err
		}
	}
	note := preflight.CompleteForReport(cfg, env)
	checks := preflight.InitChecks(env, cfg)
	results, runErr := preflight.Run(checks, preflight.NewIgnoreSet(cfg.NodeRegistration.IgnorePreflightErrors...))
	report := preflightReport(f, cfg, note, results, fixes)
	if err := f.output.print(out, report, func() error {
		preflight.WriteTable(out, results, cfg.NodeRegistration.Name, cfg.LocalAPIEndpoint.AdvertiseAddress, note)
		return nil
	}); err != nil {
		return err
	}
	return runErr
}

// preflightFixes runs the standard fixes for --fix. With -o json, their
// progress goes to stderr, and a failure is also reported as JSON.
func preflightFixes(cmd *cobra.Command, out io.Writer, f *preflightFlags, env *node.Host,
	cfg *config.Init) ([]preflight.Fix, error) {
	fixes, err := runFixes(f.output.progress(cmd), env, cfg, f.dryRun)
	if err != nil {
		// A later fix failed: what the earlier ones changed must still
		// reach Ansible's changed. In text, their progress lines said it.
		_ = f.output.print(out, map[string]any{"changed": len(fixes) > 0 && !f.dryRun,
			"fixes": append([]preflight.Fix{}, fixes...), "dryRun": f.dryRun, "error": err.Error()},
			func() error { return nil })
	}
	return fixes, err
}

// preflightReport is preflight's report as one JSON object; the fixes and
// dryRun keys are there only with --fix.
func preflightReport(f *preflightFlags, cfg *config.Init, note string, results []preflight.Result,
	fixes []preflight.Fix) map[string]any {
	report := map[string]any{"changed": len(fixes) > 0 && !f.dryRun, "advertiseAddress": cfg.LocalAPIEndpoint.AdvertiseAddress,
		"advertiseAddressNote": note, "nodeName": cfg.NodeRegistration.Name, "checks": results}
	if f.fix {
		report["fixes"], report["dryRun"] = append([]preflight.Fix{}, fixes...), f.dryRun
	}
	return report
}

// runFixes makes the standard fixes for init's configuration: the
// sandbox image is the cluster's pause image.
func runFixes(out io.Writer, env *node.Host, cfg *config.Init, dryRun bool) ([]preflight.Fix, error) {
	images, err := images.Images(&cfg.Cluster)
	if err != nil {
		return nil, err
	}
	return preflight.RunFixes(out, env, preflight.FixOptions{
		Want:    preflight.ContainerdWant{SandboxImage: images.Pause, CgroupDriver: preflight.HostCgroupDriver(env)},
		Systemd: systemd.DBus{}, CRIEndpoint: cfg.NodeRegistration.CRISocket, Now: time.Now}, dryRun)
}
