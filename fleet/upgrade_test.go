package fleet

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/config"
)

// A release of the next minor: up upgrades the first control plane with
// apply, the other control planes with node one at a time, then drains,
// upgrades and uncordons each worker; a second up runs no upgrade.
func TestUpUpgradesInOrder(t *testing.T) {
	fc := newFakeCluster()
	fc.release = "v1.34.4"
	ctx := context.Background()
	opts := Options{Dial: fc.dial}
	c := testCluster(t, 2)
	c.Spec.Hosts = append(c.Spec.Hosts[:1], append([]Host{{Address: "10.0.0.9", Role: RoleControlPlane}}, c.Spec.Hosts[1:]...)...)
	c.Spec.Cluster = &config.ClusterConfiguration{ControlPlaneEndpoint: "10.0.0.100:6443"}
	c.Spec.Release = writeRelease(t, t.TempDir(), "v1.34.4")
	if _, err := Up(ctx, c, opts); err != nil {
		t.Fatal(err)
	}
	if got := fc.ran("kubestrap upgrade"); len(got) != 0 {
		t.Fatalf("up at the release's version upgraded: %v", got)
	}

	fc.log, fc.release = nil, "v1.35.4"
	c.Spec.Release = writeRelease(t, t.TempDir(), "v1.35.4")
	rep, err := Up(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, l := range fc.log {
		if strings.Contains(l, "upgrade") || strings.Contains(l, "drain") || strings.Contains(l, "uncordon") {
			steps = append(steps, l)
		}
	}
	want := []string{"10.0.0.1 kubestrap upgrade apply", "10.0.0.9 kubestrap upgrade node",
		"10.0.0.1 drain 10.0.0.2", "10.0.0.2 kubestrap upgrade node", "10.0.0.1 uncordon 10.0.0.2",
		"10.0.0.1 drain 10.0.0.3", "10.0.0.3 kubestrap upgrade node", "10.0.0.1 uncordon 10.0.0.3"}
	if !slices.Equal(steps, want) {
		t.Errorf("upgrade steps:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
	if !rep.Changed {
		t.Error("the upgrading up reports no change")
	}

	fc.log = nil
	rep, err = Up(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := fc.ran("kubestrap upgrade"); len(got) != 0 || rep.Changed {
		t.Errorf("a second up upgraded again: %v (changed %v)", got, rep.Changed)
	}
}

// A release two minors ahead is refused before anything is upgraded.
func TestUpRefusesASkippedMinor(t *testing.T) {
	fc := newFakeCluster()
	fc.release = "v1.34.4"
	ctx := context.Background()
	c := testCluster(t, 1)
	c.Spec.Release = writeRelease(t, t.TempDir(), "v1.34.4")
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	c.Spec.Release = writeRelease(t, t.TempDir(), "v1.36.3")
	_, err := Up(ctx, c, Options{Dial: fc.dial})
	if err == nil || !strings.Contains(err.Error(), "skips 1 minor") {
		t.Fatalf("want the skip refused, got %v", err)
	}
	if got := fc.ran("kubestrap upgrade"); len(got) != 0 {
		t.Errorf("upgraded anyway: %v", got)
	}
}
