package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/hostfs"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/systemd"
)

type resetFlags struct {
	force, dryRun     bool
	output, criSocket string
	skip              []string
}

func newResetCommand(out io.Writer) *cobra.Command {
	f := &resetFlags{}
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Undo init or join on this node: etcd member, Node, kubelet, pods, mounts, files, pod network",
		Long: "reset returns this node to a clean host: it removes its etcd member and Node object, stops the kubelet,\n" +
			"removes every pod, unmounts and removes kubestrap's files, the CNI config, links and iptables chains, and\n" +
			"lists what it left (the changes of `preflight --fix`) with how to revert them. A second reset is a no-op.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReset(cmd, f, "") },
	}
	pf := cmd.PersistentFlags()
	pf.BoolVarP(&f.force, "force", "f", false, "reset without asking, even when this node's etcd member cannot be removed "+
		"without losing quorum")
	pf.BoolVar(&f.dryRun, "dry-run", false, "list what would be removed; change nothing")
	pf.StringVarP(&f.output, "output", "o", "", "json: print the report as one JSON object")
	pf.StringVar(&f.criSocket, "cri-socket", "", "the runtime's CRI endpoint (default: the kubelet's)")
	cmd.Flags().StringSliceVar(&f.skip, "skip-phases", nil, "phases to skip, e.g. network/iptables (see kubestrap reset phase --help)")

	phaseCmd := &cobra.Command{Use: "phase NAME", Short: "Run one phase of reset", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReset(cmd, f, args[0]) }}
	var add func(parent *cobra.Command, prefix string, ps []phases.Phase)
	add = func(parent *cobra.Command, prefix string, ps []phases.Phase) {
		for _, p := range ps {
			path := prefix + p.Name
			c := &cobra.Command{Use: p.Name, Short: p.Short, Args: cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error { return runReset(cmd, f, path) }}
			parent.AddCommand(c)
			add(c, path+"/", p.Phases)
		}
	}
	add(phaseCmd, "", phases.ResetPhases())
	addPhaseAliases(phaseCmd, "reset", cobra.NoArgs, func(cmd *cobra.Command, _ []string, path string) error {
		return runReset(cmd, f, path)
	})
	cmd.AddCommand(phaseCmd)
	return cmd
}

func runReset(cmd *cobra.Command, f *resetFlags, only string) error {
	out, jsonOut := cmd.OutOrStdout(), io.Writer(nil)
	switch f.output {
	case "":
	case "json":
		// Phase lines go to stderr so that stdout is only the JSON.
		out, jsonOut = cmd.ErrOrStderr(), cmd.OutOrStdout()
	default:
		return &usageError{fmt.Errorf("unknown output %q: use json", f.output)}
	}
	runner := &phases.Runner{Command: "reset", Phases: phases.ResetPhases(), Out: out, Skip: f.skip}
	if err := runner.ValidateSkip(); err != nil {
		return &usageError{err}
	}
	if only != "" && !slices.Contains(runner.Paths(), only) {
		return &usageError{fmt.Errorf("unknown phase %q; known phases: %s", only, strings.Join(runner.Paths(), ", "))}
	}
	if only == "" && !f.dryRun && !f.force && isTerminal(cmd.InOrStdin()) {
		if !confirm(cmd.InOrStdin(), out, "[reset] reset removes this node's etcd member, Node, kubelet, pods and "+
			"kubestrap's files and network setup.\n[reset] Are you sure you want to proceed? [y/N]: ") {
			return errors.New("reset aborted: nothing was changed")
		}
	}
	if !f.dryRun {
		lock, err := hostfs.AcquireLock(hostfs.LockPath, "reset")
		if err != nil {
			return err
		}
		defer lock.Release()
		// A restore killed half-way: put etcd's data and pods back first,
		// so that the member is removed through its peers as usual.
		if err := recoverParked(out, "reset"); err != nil {
			return err
		}
	}
	data := phases.NewResetData(phases.ResetOptions{DryRun: f.dryRun, Force: f.force, Out: out, Env: preflight.Host(),
		Host: cleanup.RealHost(), Systemd: systemd.DBus{}, CRISocket: f.criSocket})
	defer data.Close()
	var err error
	if only != "" {
		err = runner.RunPhase(cmd.Context(), only, data)
	} else {
		err = runner.Run(cmd.Context(), data)
	}
	// The report says what happened also when a phase failed.
	if jsonOut != nil {
		enc := json.NewEncoder(jsonOut)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(data.Report()); jerr != nil && err == nil {
			err = jerr
		}
	} else {
		data.Report().WriteText(out)
	}
	return err
}

// isTerminal says whether r is an interactive terminal: reset asks before
// it acts only there (Ansible, scripts and pipes get no prompt, as with
// kubeadm). A variable so that tests stand in a terminal.
var isTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks question on out and reads one line: only y or yes proceeds.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprint(out, question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
