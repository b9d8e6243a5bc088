package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/resetflow"
	"github.com/kubestrap/kubestrap/systemd"
)

type resetFlags struct {
	force     bool
	criSocket string
}

func newResetCommand(io.Writer) *cobra.Command {
	f := &resetFlags{}
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Undo init or join on this node: etcd member, Node, kubelet, pods, mounts, files, pod network",
		Long: "reset returns this node to a clean host: it removes its etcd member and Node object, stops the kubelet,\n" +
			"removes every pod, unmounts and removes kubestrap's files, the CNI config, links and iptables chains, and\n" +
			"lists what it left (the changes of `preflight --fix`) with how to revert them. A second reset is a no-op.",
	}
	pf := cmd.PersistentFlags()
	pf.BoolVarP(&f.force, "force", "f", false, "reset without asking, even when this node's etcd member cannot be removed "+
		"without losing quorum")
	pf.StringVar(&f.criSocket, "cri-socket", "", "the runtime's CRI endpoint (default: the kubelet's)")
	flow := &phases.Flow{Command: "reset", Phases: resetflow.ResetPhases(), Aliases: resetflow.KubeadmAliases, Args: cobra.NoArgs, SkipExample: "network/iptables",
		DryRunHelp: "list what would be removed; change nothing", OutputHelp: "json: print the report as one JSON object",
		Start: func(inv *phases.Invocation) (*phases.Session, error) { return startReset(inv, f), nil }}
	flow.BindToCommand(cmd)
	return cmd
}

// startReset is reset's data initializer. The report says what happened
// also when a phase failed.
func startReset(inv *phases.Invocation, f *resetFlags) *phases.Session {
	var data resetflow.ResetData
	return &phases.Session{
		Confirm: func() error { return confirmReset(inv, f.force) },
		// A restore killed half-way: put etcd's data and pods back first,
		// so that the member is removed through its peers as usual.
		Locked: func() error { return recoverParked(inv.Out, "reset") },
		Data: func() (phases.Data, error) {
			data = resetflow.NewResetData(resetflow.ResetOptions{DryRun: inv.DryRun, Force: f.force, Out: inv.Out,
				Env: node.Real(), Systemd: systemd.DBus{}, CRISocket: f.criSocket})
			return data, nil
		},
		Close: func() { data.Close() },
		Finish: func(_ phases.Data, _ bool, err error) error {
			if inv.JSON == nil {
				data.Report().WriteText(inv.Out)
				return err
			}
			if jerr := writeJSON(inv.JSON, data.Report()); jerr != nil && err == nil {
				err = jerr
			}
			return err
		}}
}

// confirmReset asks at a terminal before a whole reset.
func confirmReset(inv *phases.Invocation, force bool) error {
	if inv.Only != "" || inv.DryRun || force || !isTerminal(inv.Cmd.InOrStdin()) {
		return nil
	}
	if !confirm(inv.Cmd.InOrStdin(), inv.Out, "[reset] reset removes this node's etcd member, Node, kubelet, pods and "+
		"kubestrap's files and network setup.\n[reset] Are you sure you want to proceed? [y/N]: ") {
		return errors.New("reset aborted: nothing was changed")
	}
	return nil
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
