package fleet

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
)

// drainTimeout bounds a worker's drain: a PodDisruptionBudget that never
// allows an eviction ends it with kubectl's message naming the pod.
const drainTimeout = 5 * time.Minute

// releaseVersion is the Kubernetes version of a release tarball (its
// kubernetes-version file), "" for a release that has none.
func releaseVersion(tarball string) (string, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", tarball, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", tarball, err)
		}
		if path.Base(hdr.Name) == "kubernetes-version" && strings.Count(strings.Trim(hdr.Name, "./"), "/") == 1 {
			b, err := io.ReadAll(io.LimitReader(tr, 64))
			return strings.TrimSpace(string(b)), err
		}
	}
}

// upgradeTarget is the version up carries the cluster to: the file's
// kubernetesVersion, else the release's.
func (r *run) upgradeTarget() (string, error) {
	if c := r.cluster.Spec.Cluster; c != nil && c.KubernetesVersion != "" {
		return c.KubernetesVersion, nil
	}
	return releaseVersion(r.cluster.Spec.Release)
}

// behind are the nodes of the cluster whose kubelet is not at target.
func (r *run) behind(target string) []*hostRun {
	var out []*hostRun
	for _, h := range r.reachable() {
		if h.joined && h.kubeletVersion != "" && h.kubeletVersion != target {
			out = append(out, h)
		}
	}
	return out
}

// upgrade carries an existing cluster to the release's version, as kubeadm
// is driven: apply on the first control plane, node on the others one at
// a time, then the workers in batches, each drained first and uncordoned
// once Ready at the new version. Nodes at the version are left alone, so
// a second up changes nothing, and a run cut off half-way resumes.
func (r *run) upgrade(ctx context.Context, p *plan) error {
	target, err := r.upgradeTarget()
	if err != nil || target == "" || len(r.behind(target)) == 0 {
		return err
	}
	lead := p.init
	if lead == nil && len(p.members) > 0 {
		lead = p.members[0]
	}
	if lead == nil {
		return errors.New("the cluster needs upgrading but no control plane of it is reachable")
	}
	if err := r.checkUpgrade(lead, target); err != nil {
		return err
	}
	if err := r.each(ctx, []*hostRun{lead}, func(ctx context.Context, h *hostRun) error {
		return r.upgradeStep(ctx, h, "upgrade apply", "upgrade", "apply", target, "-y")
	}); err != nil {
		return err
	}
	var workers []*hostRun
	for _, h := range r.behind(target) {
		if h == lead {
			continue
		}
		if h.controlPlane {
			if err := r.each(ctx, []*hostRun{h}, func(ctx context.Context, h *hostRun) error {
				return r.upgradeStep(ctx, h, "upgrade node", "upgrade", "node")
			}); err != nil {
				return err
			}
			continue
		}
		workers = append(workers, h)
	}
	return r.upgradeWorkers(ctx, lead, workers)
}

// checkUpgrade refuses, before anything changes, a version jump the rules
// forbid (two minors, a downgrade).
func (r *run) checkUpgrade(lead *hostRun, target string) error {
	if err := config.CheckUpgrade(lead.kubeletVersion, target); err != nil {
		return fmt.Errorf("the release is Kubernetes %s: %w", target, err)
	}
	return nil
}

func (r *run) upgradeWorkers(ctx context.Context, lead *hostRun, workers []*hostRun) error {
	n := max(r.opts.Concurrency, 1)
	for i := 0; i < len(workers); i += n {
		batch := workers[i:min(i+n, len(workers))]
		if err := r.each(ctx, batch, func(ctx context.Context, h *hostRun) error { return r.upgradeWorker(ctx, lead, h) }); err != nil {
			return err
		}
	}
	return nil
}

// upgradeWorker drains a worker (honouring PodDisruptionBudgets), upgrades
// its kubelet, and uncordons it once it is Ready at the new version.
func (r *run) upgradeWorker(ctx context.Context, lead, h *hostRun) error {
	name := h.nodeName
	if name == "" {
		return fmt.Errorf("cannot tell the Node name of %s to drain it", h.ID())
	}
	kubectl := "/usr/local/bin/kubectl --kubeconfig " + layout.AdminConfPath + " "
	t0 := time.Now()
	err := timed(ctx, h, "drain", drainTimeout+waitSlack, func(ctx context.Context) error {
		_, err := lead.m.Run(ctx, "drain "+name, fmt.Sprintf("%sdrain %s --ignore-daemonsets --delete-emptydir-data --timeout=%ds",
			kubectl, shellQuote(name), int(drainTimeout.Seconds())), nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("drain %s (it stays cordoned; `kubectl uncordon %s` undoes that): %w", name, name, err)
	}
	r.step(h, "drain", true, "cordoned and drained "+name, time.Since(t0))
	if err := r.upgradeStep(ctx, h, "upgrade node", "upgrade", "node"); err != nil {
		return err
	}
	t0 = time.Now()
	if _, err := lead.m.Run(ctx, "uncordon "+name, kubectl+"uncordon "+shellQuote(name), nil); err != nil {
		return err
	}
	r.step(h, "uncordon", true, name+" schedulable again", time.Since(t0))
	return nil
}

func (r *run) upgradeStep(ctx context.Context, h *hostRun, step string, args ...string) error {
	return timedStep(ctx, h, step, func(ctx context.Context) error {
		t0 := time.Now()
		res, err := r.kubestrapJSONRaw(ctx, h, step, args...)
		if err != nil {
			return err
		}
		var out struct{ From, To string }
		_ = res.decode(&out)
		r.step(h, step, res.Changed, "at "+out.To, time.Since(t0))
		h.kubeletVersion = out.To
		return nil
	})
}
