package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/hostfs"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

// preflightFlags are init's configuration flags and preflight's own.
type preflightFlags struct {
	initFlags
	output string
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
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	cmd.Flags().BoolVar(&f.fix, "fix", false, "make the standard fixes first: containerd's CRI plugin, cgroup driver and "+
		"sandbox image; br_netfilter and overlay; sysctls; swap off")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "with --fix: print the fixes without making them")
	return cmd
}

// runPreflight loads init's configuration, makes the fixes (with --fix),
// runs init's checks and prints them; it fails when a check failed.
func runPreflight(cmd *cobra.Command, out io.Writer, f *preflightFlags) error {
	if f.output != "" && f.output != "json" && f.output != "table" {
		return usage(fmt.Errorf("unknown output %q: use table or json", f.output))
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
			lock, err := hostfs.AcquireLock(hostfs.LockPath, "preflight --fix")
			if err != nil {
				return err
			}
			defer lock.Release()
		}
		if fixes, err = preflightFixes(cmd, out, f, env, cfg); err != nil {
			return err
		}
	}
	note := completeForPreflight(cfg, env)
	checks := preflight.InitChecks(env, cfg)
	results, runErr := preflight.Run(checks, preflight.NewIgnoreSet(cfg.NodeRegistration.IgnorePreflightErrors...))
	if f.output == "json" {
		if err := writePreflightJSON(out, f, cfg, note, results, fixes); err != nil {
			return err
		}
	} else {
		printTable(out, results, cfg, note)
	}
	return runErr
}

// preflightFixes runs the standard fixes for --fix. With -o json, their
// progress goes to stderr, and a failure is also reported as JSON.
func preflightFixes(cmd *cobra.Command, out io.Writer, f *preflightFlags, env *node.Host,
	cfg *config.Init) ([]preflight.Fix, error) {
	fixOut := out
	if f.output == "json" {
		fixOut = cmd.ErrOrStderr() // stdout is only the JSON object
	}
	fixes, err := runFixes(fixOut, env, cfg, f.dryRun)
	if err != nil && f.output == "json" {
		// A later fix failed: what the earlier ones changed
		// must still reach Ansible's changed.
		_ = writeJSON(out, map[string]any{"changed": len(fixes) > 0 && !f.dryRun,
			"fixes": append([]preflight.Fix{}, fixes...), "dryRun": f.dryRun, "error": err.Error()})
	}
	return fixes, err
}

// writePreflightJSON prints preflight's report as one JSON object; the
// fixes and dryRun keys are there only with --fix.
func writePreflightJSON(out io.Writer, f *preflightFlags, cfg *config.Init, note string, results []preflight.Result,
	fixes []preflight.Fix) error {
	report := map[string]any{"changed": len(fixes) > 0 && !f.dryRun, "advertiseAddress": cfg.LocalAPIEndpoint.AdvertiseAddress,
		"advertiseAddressNote": note, "nodeName": cfg.NodeRegistration.Name, "checks": results}
	if f.fix {
		report["fixes"], report["dryRun"] = append([]preflight.Fix{}, fixes...), f.dryRun
	}
	return writeJSON(out, report)
}

// runFixes plans the standard fixes, prints each with how to revert it,
// and applies them unless dryRun. It returns the fixes it made (or, in a
// dry run, would make).
func runFixes(out io.Writer, env *node.Host, cfg *config.Init, dryRun bool) ([]preflight.Fix, error) {
	images, err := images.Images(&cfg.Cluster)
	if err != nil {
		return nil, err
	}
	driver := "cgroupfs"
	if init, _ := env.Root.ReadString("/proc/1/comm"); init == "systemd" {
		driver = "systemd" // one cgroup manager for the whole host
	}
	fixes, err := preflight.PlanFixes(env, preflight.FixOptions{
		Want:    preflight.ContainerdWant{SandboxImage: images.Pause, CgroupDriver: driver},
		Systemd: systemd.DBus{}, CRIEndpoint: cfg.NodeRegistration.CRISocket, Now: time.Now})
	if err != nil {
		return nil, err
	}
	if len(fixes) == 0 {
		fmt.Fprintln(out, "[fix] nothing to fix")
	}
	applied, err := applyFixes(out, fixes, dryRun)
	if err != nil {
		return applied, err
	}
	if dryRun {
		fmt.Fprintln(out, "[fix] dry-run: nothing was changed")
	}
	fmt.Fprintln(out)
	return applied, nil
}

// applyFixes applies fixes in order (in a dry run, only prints them) and
// returns those applied, also when a later one fails: they changed the
// host, and the caller must say so.
func applyFixes(out io.Writer, fixes []preflight.Fix, dryRun bool) ([]preflight.Fix, error) {
	var applied []preflight.Fix
	for _, f := range fixes {
		for _, c := range f.Changes {
			fmt.Fprintf(out, "[fix] %s: %s\n", f.Name, c)
		}
		fmt.Fprintf(out, "[fix] %s: to revert: %s\n", f.Name, f.Revert)
		if dryRun {
			applied = append(applied, f)
			continue
		}
		start := time.Now()
		if err := f.Apply(); err != nil {
			return applied, fmt.Errorf("fix %s: %w", f.Name, err)
		}
		applied = append(applied, f)
		fmt.Fprintf(out, "[fix] %s: done (%s)\n", f.Name, phases.FormatDuration(time.Since(start)))
	}
	return applied, nil
}

// completeForPreflight fills the node name and address like init does, but
// reports a detection failure as a note rather than stopping the report.
func completeForPreflight(cfg *config.Init, env *node.Host) string {
	if cfg.NodeRegistration.Name == "" {
		if h, err := env.Hostname(); err == nil {
			cfg.NodeRegistration.Name = strings.ToLower(h)
		}
	}
	if cfg.LocalAPIEndpoint.AdvertiseAddress != "" {
		return "given"
	}
	choice, err := node.DetectAdvertiseAddress(env)
	if err != nil {
		return "ERROR: " + err.Error()
	}
	cfg.LocalAPIEndpoint.AdvertiseAddress = choice.Addr.String()
	return choice.Note
}

func printTable(out io.Writer, results []preflight.Result, cfg *config.Init, note string) {
	fmt.Fprintf(out, "node %s, advertise address %s (%s)\n\n", cfg.NodeRegistration.Name,
		cfg.LocalAPIEndpoint.AdvertiseAddress, note)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAILS")
	for _, r := range results {
		msgs := append(append([]string{}, r.Errors...), r.Warnings...)
		if r.Info != "" {
			msgs = append([]string{r.Info}, msgs...)
		}
		first := ""
		if len(msgs) > 0 {
			first = firstLine(msgs[0])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, first)
		for _, m := range msgs[min(1, len(msgs)):] {
			fmt.Fprintf(tw, "\t\t%s\n", firstLine(m))
		}
	}
	_ = tw.Flush()
	for _, r := range results {
		for _, m := range append(append([]string{}, r.Errors...), r.Warnings...) {
			if strings.Contains(m, "\n") {
				fmt.Fprintf(out, "\n%s:\n  %s\n", r.Name, m)
			}
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
