package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/hostfs"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

func newInitCommand(out io.Writer) *cobra.Command {
	f := &initFlags{}
	var dryRun bool
	var skip []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Set up the first control-plane node of a cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd, f, dryRun, skip, "")
		},
	}
	// Persistent, so that `init phase ...` takes the same configuration flags.
	f.register(cmd.PersistentFlags())
	f.registerInitOnly(cmd.PersistentFlags())
	cmd.PersistentFlags().BoolVar(&dryRun, "dry-run", false, "run every offline phase into a temp dir and print what the online phases would do; change nothing on the host")
	cmd.Flags().StringSliceVar(&skip, "skip-phases", nil, "phases to skip, e.g. addons/kube-proxy (see `kubestrap init phase --help`)")
	cmd.AddCommand(newPhaseCommand(f, &dryRun))
	return cmd
}

// newPhaseCommand generates `init phase <name> [<child>]` from the phase
// tree; `init phase certs/apiserver` works too.
func newPhaseCommand(f *initFlags, dryRun *bool) *cobra.Command {
	phaseCmd := &cobra.Command{
		Use:   "phase [name]",
		Short: "Run one phase of init (e.g. `phase certs apiserver` or `phase certs/apiserver`)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return runInit(cmd, f, *dryRun, nil, args[0])
		},
	}
	var add func(parent *cobra.Command, prefix string, ps []phases.Phase)
	add = func(parent *cobra.Command, prefix string, ps []phases.Phase) {
		for _, p := range ps {
			path := prefix + p.Name
			c := &cobra.Command{Use: p.Name, Short: p.Short, Args: cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error { return runInit(cmd, f, *dryRun, nil, path) }}
			parent.AddCommand(c)
			add(c, path+"/", p.Phases)
		}
	}
	add(phaseCmd, "", phases.InitPhases())
	addPhaseAliases(phaseCmd, "init", cobra.NoArgs, func(cmd *cobra.Command, _ []string, path string) error {
		return runInit(cmd, f, *dryRun, nil, path)
	})
	return phaseCmd
}

func runInit(cmd *cobra.Command, f *initFlags, dryRun bool, skip []string, only string) error {
	out := cmd.OutOrStdout()
	cfg, err := config.LoadInit(phases.InitConfigFile(f.configFile, only), f.apply(flagsOf(cmd)))
	if err != nil {
		return err
	}
	warnConfig(cmd, cfg.Warnings)
	env := preflight.Host()
	ignore := preflight.NewIgnoreSet(cfg.NodeRegistration.IgnorePreflightErrors...)
	if unknown := ignore.Unknown(append(preflight.InitChecks(env, cfg), preflight.KubeletVersion(env, "", ""))); len(unknown) > 0 {
		return &usageError{fmt.Errorf("--ignore-preflight-errors names unknown checks: %s (see `kubestrap preflight`)",
			strings.Join(unknown, ", "))}
	}
	opts := phases.InitOptions{DryRun: dryRun, Ignore: ignore, Out: out, Env: env, AgentBinary: f.agentBinary,
		Systemd: systemd.DBus{}}
	runner := &phases.Runner{Command: "init", Phases: phases.InitPhases(), Skip: append(skip, cfg.SkipPhases...)}
	if err := runner.ValidateSkip(); err != nil {
		return &usageError{err} // before anything is written
	}
	if f.output == "json" {
		// Phase lines go to stderr so that stdout is only the JSON.
		opts.Out, opts.JSON = cmd.ErrOrStderr(), out
		out = cmd.ErrOrStderr()
	} else if f.output != "" {
		return &usageError{fmt.Errorf("unknown output %q: use json", f.output)}
	}
	if dryRun {
		if opts.DryRunDir, err = phases.NewDryRunDir(); err != nil {
			return err
		}
	}
	data, err := phases.NewInitData(cfg, opts)
	if err != nil {
		removeDryRunDir(opts.DryRunDir)
		return err
	}
	if !dryRun {
		lock, err := hostfs.AcquireLock(hostfs.LockPath, "init")
		if err != nil {
			return err
		}
		defer lock.Release()
		if err := recoverParked(out, "init"); err != nil {
			return err
		}
	}
	if !dryRun && only == "" {
		done, err := phases.PrepareInit(out, data.KubernetesDir(), cfg, ignore)
		if err != nil {
			return err
		}
		if done {
			return printInitialized(cmd, data, opts.JSON)
		}
	}
	runner.Out = out
	if only != "" {
		err = runner.RunPhase(cmd.Context(), only, data)
	} else {
		err = runner.Run(cmd.Context(), data)
	}
	if dryRun {
		fmt.Fprintf(out, "dry-run output: %s\n", opts.DryRunDir)
	}
	return err
}

// printInitialized answers a no-op init -o json with the join
// information, "changed": false (the JSON contract: one object every run).
func printInitialized(cmd *cobra.Command, data phases.InitData, jsonOut io.Writer) error {
	if jsonOut == nil {
		return nil
	}
	info, err := phases.InitializedJoinInfo(cmd.Context(), data)
	if err != nil {
		return err
	}
	return writeJSON(jsonOut, info)
}

// flagsOf returns the flag set that holds init's flags: the init command's
// own, also when running as `init phase ...`.
func flagsOf(cmd *cobra.Command) *pflag.FlagSet {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == "init" {
			return c.PersistentFlags()
		}
	}
	return cmd.Flags()
}

func removeDryRunDir(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}
