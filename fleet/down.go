package fleet

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Down resets every host of the cluster: workers first (all at once), then
// the control planes one at a time, the one that ran init last, so that
// etcd keeps quorum while its members leave.
func Down(ctx context.Context, c *Cluster, o Options) (*Report, error) {
	r, err := start(ctx, c, o, "down")
	if err != nil {
		return r.finish(), err
	}
	defer r.closeAll()
	probe := func(ctx context.Context, h *hostRun) error {
		return timedStep(ctx, h, "probe", func(ctx context.Context) error { return r.probeInstalled(ctx, h) })
	}
	if err := r.each(ctx, r.hosts, probe); err != nil {
		return r.finish(), err
	}
	var cps, workers []*hostRun
	for _, h := range r.hosts {
		if h.controlPlane {
			cps = append(cps, h)
		} else {
			workers = append(workers, h)
		}
	}
	if err := r.each(ctx, workers, r.reset); err != nil {
		return r.finish(), err
	}
	for i := len(cps) - 1; i >= 0; i-- {
		if err := r.each(ctx, cps[i:i+1], r.reset); err != nil {
			return r.finish(), err
		}
	}
	return r.finish(), nil
}

// probeInstalled learns whether kubestrap is on the host and whether the
// host is a control plane.
func (r *run) probeInstalled(ctx context.Context, h *hostRun) error {
	out, err := h.m.Run(ctx, "probe install", "test -x "+kubestrapPath+" && echo installed; true", nil)
	if err != nil {
		return err
	}
	if !strings.Contains(string(out), "installed") {
		return nil
	}
	h.installed = true // reset itself decides whether there is anything to undo
	return r.probe(ctx, h)
}

func (r *run) reset(ctx context.Context, h *hostRun) error {
	if !h.installed {
		r.step(h, "reset", false, "kubestrap is not installed: nothing to reset", 0)
		return nil
	}
	args := []string{"reset"}
	if r.opts.Force {
		args = append(args, "--force")
	}
	t0 := time.Now()
	var res result
	err := timedStep(ctx, h, "reset", func(ctx context.Context) (err error) {
		res, err = r.kubestrapJSONRaw(ctx, h, "reset", args...)
		return err
	})
	if err != nil {
		return err
	}
	detail := "nothing to undo"
	if res.Changed {
		detail = "reset: kubestrap's files, pods, network and etcd member removed"
	}
	r.step(h, "reset", res.Changed, detail, time.Since(t0))
	return timedStep(ctx, h, "remove files", func(ctx context.Context) error { return r.removeUpDir(ctx, h) })
}

// removeUpDir removes what up put on the host (the release, the images,
// init's configuration), so that a reset host keeps nothing of the cluster.
func (r *run) removeUpDir(ctx context.Context, h *hostRun) error {
	t0 := time.Now()
	q := shellQuote(upDir)
	out, err := h.m.Run(ctx, "remove "+upDir, fmt.Sprintf("test ! -e %s || { rm -rf %s && echo removed; }", q, q), nil)
	if err != nil {
		return err
	}
	removed := strings.Contains(string(out), "removed")
	detail := upDir + " was not there"
	if removed {
		detail = upDir + " removed"
	}
	r.step(h, "remove files", removed, detail, time.Since(t0))
	return nil
}

// String is a one-line summary of a report.
func (rep *Report) String() string {
	changed := 0
	for _, h := range rep.Hosts {
		if h.Changed {
			changed++
		}
	}
	if !rep.Changed {
		return fmt.Sprintf("%s: no change on %d host(s) (%.1fs)", rep.Cluster, len(rep.Hosts), rep.Seconds)
	}
	return fmt.Sprintf("%s: %d of %d host(s) changed (%.1fs)", rep.Cluster, changed, len(rep.Hosts), rep.Seconds)
}
