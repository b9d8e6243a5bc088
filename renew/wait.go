package renew

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/staticpods"
)

// WaitTimeout bounds the wait for restarted static pods, as init bounds
// its wait for the control plane.
const WaitTimeout = 4 * time.Minute

// HealthWait is Options.Wait on a node: for each component, first a
// container the kubelet started since the manifest changed (through the
// CRI at criEndpoint), then the health probe init uses. On a timeout the
// error carries the components' last log lines.
func HealthWait(out io.Writer, certDir, kubeDir, criEndpoint string) func(context.Context, []string, time.Time) error {
	return func(ctx context.Context, components []string, since time.Time) error {
		started := func(ctx context.Context, component string) error {
			return staticpods.StartedSince(ctx, criEndpoint, component, since)
		}
		probes, err := restartProbes(certDir, filepath.Join(kubeDir, layout.ManifestsSubdir), components, started)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, WaitTimeout)
		defer cancel()
		w := &staticpods.Waiter{Probes: probes, Interval: 500 * time.Millisecond, Out: out, Prefix: "renew",
			Logs: staticpods.LogsFrom(criEndpoint)}
		return w.Wait(ctx)
	}
}

// restartProbes are staticpods.ControlPlaneProbes of components, each
// passing only once started(component) does: until the kubelet has replaced
// a pod, the old one, with the old certificates, would answer the probe.
// The API server's address comes from its manifest, which every
// control-plane node has, joined or not.
func restartProbes(certDir, manifestDir string, components []string,
	started func(ctx context.Context, component string) error) ([]staticpods.Probe, error) {
	ep, err := staticpods.LocalAPIEndpoint(manifestDir)
	if err != nil {
		return nil, fmt.Errorf("find this node's API server address: %w", err)
	}
	all, err := staticpods.ControlPlaneProbes(&config.Init{InitConfiguration: config.InitConfiguration{LocalAPIEndpoint: ep}}, certDir)
	if err != nil {
		return nil, err
	}
	var out []staticpods.Probe
	for _, p := range all {
		if !slices.Contains(components, p.Name) {
			continue
		}
		out = append(out, staticpods.Probe{Name: p.Name, Check: func(ctx context.Context) error {
			if err := started(ctx, p.Name); err != nil {
				return err
			}
			return p.Check(ctx)
		}})
	}
	return out, nil
}
