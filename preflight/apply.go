package preflight

import (
	"fmt"
	"io"
	"time"

	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
)

// HostCgroupDriver is the cgroup driver containerd and the kubelet must
// use on this host: systemd's when systemd is init, so that one cgroup
// manager runs the whole host; cgroupfs otherwise.
func HostCgroupDriver(e *node.Host) string {
	if init, _ := e.Root.ReadString("/proc/1/comm"); init == "systemd" {
		return "systemd"
	}
	return "cgroupfs"
}

// RunFixes plans the standard fixes (`preflight --fix`), prints each with
// how to revert it, and applies them unless dryRun. It returns the fixes
// it made (or, in a dry run, would make), also when a later one fails.
func RunFixes(out io.Writer, e *node.Host, o FixOptions, dryRun bool) ([]Fix, error) {
	fixes, err := PlanFixes(e, o)
	if err != nil {
		return nil, err
	}
	if len(fixes) == 0 {
		fmt.Fprintln(out, "[fix] nothing to fix")
	}
	applied, err := ApplyFixes(out, fixes, dryRun)
	if err != nil {
		return applied, err
	}
	if dryRun {
		fmt.Fprintln(out, "[fix] dry-run: nothing was changed")
	}
	fmt.Fprintln(out)
	return applied, nil
}

// ApplyFixes applies fixes in order (in a dry run, only prints them) and
// returns those applied, also when a later one fails: they changed the
// host, and the caller must say so.
func ApplyFixes(out io.Writer, fixes []Fix, dryRun bool) ([]Fix, error) {
	var applied []Fix
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
		fmt.Fprintf(out, "[fix] %s: done (%s)\n", f.Name, poll.FormatDuration(time.Since(start)))
	}
	return applied, nil
}
