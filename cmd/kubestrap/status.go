package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/snapshot"
	"github.com/kubestrap/kubestrap/status"
	"github.com/kubestrap/kubestrap/systemd"
)

// attentionError makes `status` exit 1 when something needs attention.
type attentionError struct{ n int }

func (e *attentionError) Error() string { return fmt.Sprintf("%d problem(s) need attention", e.n) }

func newStatusCommand(out io.Writer) *cobra.Command {
	var o *output
	cmd := &cobra.Command{Use: "status", Short: "Show this node's and its cluster's health; exit 1 when something needs attention",
		Long: "status reports the node's role, the kubelet and containerd, each static pod's health, certificate expiry\n" +
			"(soonest first), the etcd members and leader, the nodes' readiness, the bootstrap tokens and the versions,\n" +
			"then lists every problem with its fix. It exits 0 when healthy and 1 when something needs attention.",
		Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			snapshot.RecoverLeftoverIfIdle("/", cmd.ErrOrStderr(), "status")
			r := status.Gather(cmd.Context(), status.ForHost(status.HostOptions{Root: "/", Systemd: systemd.DBus{},
				Kubestrap: version, Now: time.Now()}))
			err := o.print(out, r, func() error { return r.WriteText(out) })
			if err == nil && !r.Healthy {
				err = &attentionError{len(r.Problems)}
			}
			return err
		}}
	o = addOutput(cmd.Flags(), "", "output format: table or json", "table", "json")
	return cmd
}
