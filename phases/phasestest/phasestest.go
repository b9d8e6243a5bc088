// Package phasestest holds what the flows' tests share: configurations of a
// test node and running one phase alone.
package phasestest

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node/nodetest"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/preflight"
)

// InitConfig is init's configuration for node cp-1 at 192.168.56.10,
// changed by mutate.
func InitConfig(t *testing.T, mutate func(*config.Init)) *config.Init {
	t.Helper()
	c, err := config.LoadInit("", func(c *config.Init) {
		c.NodeRegistration.Name = "cp-1"
		c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
		if mutate != nil {
			mutate(c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// JoinConfig is a worker join of node w1 by token.
func JoinConfig(t *testing.T) *config.JoinConfiguration {
	t.Helper()
	c, err := config.LoadJoin("", func(c *config.JoinConfiguration) {
		c.NodeRegistration.Name = "w1"
		c.Discovery.BootstrapToken = &config.BootstrapTokenDiscovery{APIServerEndpoint: "192.168.56.10:6443",
			Token: "abcdef.0123456789abcdef", CACertHashes: []string{"sha256:" + strings.Repeat("0", 64)}}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// RunAlone runs one phase on a fresh node, turning a panic into a failure.
func RunAlone(t *testing.T, r *phases.Runner, path string, d phases.Data) (out string, err error) {
	t.Helper()
	var buf bytes.Buffer
	r.Out = &buf
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("phase %s panicked: %v", path, p)
		}
	}()
	err = r.RunPhase(context.Background(), path, d)
	return buf.String(), err
}

// CheckOutcome asserts a phase's result: want "" means success, otherwise a
// substring of the error that names what is missing.
func CheckOutcome(t *testing.T, path, want string, err error) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("phase %s alone: %v", path, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("phase %s alone: error %v, want one naming %q", path, err, want)
	}
}

// FakeAgent is a stand-in kubelet binary for kubelet-start.
func FakeAgent(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "kubelet")
	nodetest.WriteFile(t, p, "#!/bin/true\n")
	return p
}

// ShortTimeouts makes the online phases give up at once in a test.
func ShortTimeouts(t *testing.T) {
	cp, api := phases.ControlPlaneTimeout, phases.APITimeout
	phases.ControlPlaneTimeout, phases.APITimeout = 300*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { phases.ControlPlaneTimeout, phases.APITimeout = cp, api })
}

// OwnChecks are the names, sorted, of the port, dir and file checks among
// checks: those a node's own earlier, unfinished run trips.
func OwnChecks(checks []preflight.Checker) []string {
	var names []string
	for _, c := range checks {
		n := c.Name()
		if strings.HasPrefix(n, "Port-") || strings.HasPrefix(n, "DirAvailable-") || strings.HasPrefix(n, "FileAvailable-") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Sorted is a sorted copy of s.
func Sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
