package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases/resetflow"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/snapshot"
	"github.com/kubestrap/kubestrap/staticpods"
	"github.com/kubestrap/kubestrap/status"
	"github.com/kubestrap/kubestrap/systemd"
)

func newEtcdCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "etcd", Short: "This node's etcd cluster: members and snapshots"}
	snap := &cobra.Command{Use: "snapshot", Short: "Save, list, check, restore and schedule etcd snapshots"}
	snap.AddCommand(newSnapshotSaveCommand(out), newSnapshotListCommand(out), newSnapshotStatusCommand(out),
		newSnapshotRestoreCommand(out), newSnapshotScheduleCommand(out))
	cmd.AddCommand(newEtcdMembersCommand(out), snap)
	return cmd
}

// addEtcdOutput registers the -o every etcd command has: table or json.
func addEtcdOutput(cmd *cobra.Command, help string) *output {
	return addOutput(cmd.Flags(), "", help, "table", "json")
}

func newEtcdMembersCommand(out io.Writer) *cobra.Command {
	var o *output
	cmd := &cobra.Command{Use: "members", Short: "List the etcd members with their health and the leader", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			ms, leader, err := status.LocalEtcdMembers("/")(ctx)
			if err != nil && len(ms) == 0 {
				return err
			}
			view := status.EtcdView(ms, leader)
			return o.print(out, view, func() error { return view.WriteText(out) })
		}}
	o = addEtcdOutput(cmd, "output format: table or json")
	cmd.AddCommand(newEtcdMemberRemoveCommand(out))
	return cmd
}

func newEtcdMemberRemoveCommand(out io.Writer) *cobra.Command {
	var force bool
	var o *output
	cmd := &cobra.Command{Use: "remove NAME|ID", Short: "Remove another node's etcd member (the dead member of a lost VM)",
		Long: "remove takes the member named NAME, or with the hex ID that `kubestrap etcd members` shows, out of the etcd\n" +
			"cluster, through this control plane's etcd. It refuses this node's own member (`kubestrap reset` removes\n" +
			"that), the last voting member, and a removal that would leave the cluster without quorum unless --force.",
		Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			lock, err := node.AcquireLock(node.LockPath, "etcd members remove")
			if err != nil {
				return err
			}
			defer lock.Release()
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			m, err := staticpods.RemoveOtherMember(ctx, "/", args[0], force, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			removed := map[string]any{"removed": m.Name, "id": fmt.Sprintf("%x", m.ID), "peerURLs": m.PeerURLs}
			return o.print(out, removed, func() error {
				fmt.Fprintf(out, "[etcd] removed member %s (ID %x); if its node is gone for good, also `kubectl delete node %s`\n",
					m, m.ID, m.Name)
				return nil
			})
		}}
	cmd.Flags().BoolVar(&force, "force", false, "remove the member even when the cluster would be left without quorum")
	o = addEtcdOutput(cmd, "output format: table or json")
	return cmd
}

func newSnapshotSaveCommand(out io.Writer) *cobra.Command {
	var dir string
	var retain int
	var o *output
	cmd := &cobra.Command{Use: "save [FILE]", Short: "Save a snapshot of this node's etcd member (and FILE.json beside it)",
		Args: cobra.MaximumNArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			start := time.Now()
			saved, err := snapshot.SaveLocal(cmd.Context(), "/", file, dir, retain, start)
			if err != nil {
				return err
			}
			return o.print(out, saved.Info, func() error {
				saved.WriteText(out, retain, poll.FormatDuration(time.Since(start)))
				return nil
			})
		}}
	cmd.Flags().StringVar(&dir, "dir", snapshot.DefaultDir, "where the snapshot goes when no FILE is given")
	cmd.Flags().IntVar(&retain, "retain", 0, "then keep only the newest N snapshots named etcd-NODE-TIME.db in the file's dir (0: keep all)")
	o = addEtcdOutput(cmd, "json: print the sidecar")
	return cmd
}

func newSnapshotListCommand(out io.Writer) *cobra.Command {
	var dir string
	var o *output
	cmd := &cobra.Command{Use: "list", Short: "List the snapshots in the snapshot dir, newest first", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.check(); err != nil {
				return err
			}
			entries, err := snapshot.List(dir)
			if err != nil {
				return err
			}
			// A copy, so that an empty dir prints [] in JSON, not null.
			return o.print(out, append([]snapshot.Entry{}, entries...), func() error { return snapshot.WriteList(out, entries) })
		}}
	cmd.Flags().StringVar(&dir, "dir", snapshot.DefaultDir, "the snapshot dir")
	o = addEtcdOutput(cmd, "output format: table or json")
	return cmd
}

func newSnapshotStatusCommand(out io.Writer) *cobra.Command {
	var o *output
	cmd := &cobra.Command{Use: "status FILE", Short: "Check a snapshot's hash and show etcd's reading of it", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			st, err := snapshot.Inspect(args[0])
			if err != nil {
				return err
			}
			return o.print(out, st, func() error { return st.WriteText(out) })
		}}
	o = addEtcdOutput(cmd, "output format: table or json")
	return cmd
}

// snapshotRestoreFlags are etcd snapshot restore's flags.
type snapshotRestoreFlags struct {
	force, otherCluster bool
	criSocket           string
}

func newSnapshotRestoreCommand(out io.Writer) *cobra.Command {
	f := &snapshotRestoreFlags{}
	cmd := &cobra.Command{Use: "restore FILE", Short: "Restore this node's etcd from a snapshot (single control-plane clusters)",
		Long: "restore checks FILE's hash, stops etcd and the API server (their manifests move out of the manifest dir),\n" +
			"restores the data dir from FILE (the old one stays as DATADIR.before-restore-TIME), starts them again and waits\n" +
			"until they are healthy. It refuses a cluster with other members unless --force-new-cluster: then this node\n" +
			"becomes a new single-member cluster, and every other control-plane node must `kubestrap reset` and join again.\n" +
			"It always refuses while the etcd of another control plane (found from the control-plane Nodes, the members\n" +
			"and the manifest) still answers, and a snapshot of another etcd cluster unless --force-other-cluster. Every\n" +
			"restore makes a new etcd cluster ID, so members of the old cluster cannot take the restored one for theirs.",
		Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
			return runSnapshotRestore(cmd, out, args[0], f)
		}}
	cmd.Flags().BoolVar(&f.force, "force-new-cluster", false, "restore as a new single-member cluster although others are (or may be) members")
	cmd.Flags().BoolVar(&f.otherCluster, "force-other-cluster", false, "restore a snapshot whose etcd cluster ID is not this node's")
	cmd.Flags().StringVar(&f.criSocket, "cri-socket", "", "the runtime's CRI endpoint (default: the kubelet's)")
	return cmd
}

// runSnapshotRestore restores this node's etcd from file, under the host
// lock, and says what the other control-plane nodes must do then.
func runSnapshotRestore(cmd *cobra.Command, out io.Writer, file string, f *snapshotRestoreFlags) error {
	lock, err := node.AcquireLock(node.LockPath, "etcd snapshot restore")
	if err != nil {
		return err
	}
	defer lock.Release()
	cri := resetflow.NewResetData(resetflow.ResetOptions{Env: node.Real(), CRISocket: f.criSocket}).CRIEndpoint()
	opts, closer, err := snapshot.HostRestore("/", file, f.force, cri, out)
	if err != nil {
		return err
	}
	defer func() { _ = closer.Close() }()
	opts.ForceOtherCluster = f.otherCluster
	start := time.Now()
	res, err := snapshot.Restore(cmd.Context(), opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "[restore] done (%s)\n", poll.FormatDuration(time.Since(start)))
	res.WriteNext(out)
	return nil
}

func newSnapshotScheduleCommand(out io.Writer) *cobra.Command {
	s := &snapshot.Schedule{}
	var disable bool
	cmd := &cobra.Command{Use: "schedule", Short: "Save snapshots periodically with a systemd timer (or --disable it)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if disable {
				return disableSnapshotSchedule(cmd, out)
			}
			return enableSnapshotSchedule(cmd, out, s)
		}}
	cmd.Flags().DurationVar(&s.Every, "every", 6*time.Hour, "how often to save")
	cmd.Flags().IntVar(&s.Retain, "retain", 5, "how many scheduled snapshots to keep")
	cmd.Flags().StringVar(&s.Dir, "dir", snapshot.DefaultDir, "where to save them")
	cmd.Flags().BoolVar(&disable, "disable", false, "stop and remove the schedule")
	return cmd
}

// disableSnapshotSchedule stops and removes the snapshot timer, if there is
// one; the snapshots it saved stay.
func disableSnapshotSchedule(cmd *cobra.Command, out io.Writer) error {
	done, err := snapshot.Disable(cmd.Context(), systemd.DBus{}, snapshot.UnitDir)
	if err != nil {
		return err
	}
	snapshot.WriteDisabled(out, done)
	return nil
}

// enableSnapshotSchedule installs (or updates) the snapshot timer to run
// this binary; only a node with a local etcd member can have one.
func enableSnapshotSchedule(cmd *cobra.Command, out io.Writer, s *snapshot.Schedule) error {
	var err error
	if s.Binary, err = selfPath(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return usage(err)
	}
	if _, err := staticpods.LocalMember("/"); err != nil {
		return err
	}
	if err := snapshot.Enable(cmd.Context(), systemd.DBus{}, snapshot.UnitDir, *s); err != nil {
		return err
	}
	return s.WriteText(out)
}

// selfPath is this binary's real path, for the service to run.
func selfPath() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(p)
}
