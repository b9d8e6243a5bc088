package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/config"
)

// haCluster is two control planes behind an endpoint and a worker: up
// makes a token and uploads the certificates under a fresh key.
func haCluster(t *testing.T) *Cluster {
	t.Helper()
	c := testCluster(t, 1)
	c.Spec.Hosts = append(c.Spec.Hosts, Host{Address: "10.0.0.7", Role: RoleControlPlane, SSH: c.Spec.Hosts[0].SSH, NodeIP: "10.0.0.7"})
	c.Spec.Cluster = &config.ClusterConfiguration{ControlPlaneEndpoint: "10.0.0.100:6443"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// secretFiles are the files up writes secrets into, and the temporary files
// their writes use.
var secretFiles = []string{upDir + "/join.yaml", upDir + "/join.yaml.tmp",
	upDir + "/upload-certs.yaml", upDir + "/upload-certs.yaml.tmp"}

func checkNoSecretFiles(t *testing.T, fc *fakeCluster) {
	t.Helper()
	for _, m := range fc.hosts {
		for _, p := range secretFiles {
			if _, left := m.files[p]; left {
				t.Errorf("%s: %s (it holds a secret) was left on the host", m.id, p)
			}
		}
	}
}

func TestUpKeepsTheTokenAndTheKeyOffCommandLines(t *testing.T) {
	fc := newFakeCluster()
	if _, err := Up(context.Background(), haCluster(t), Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	if fc.cpJoins != 1 || len(fc.uploadedKey) != 64 {
		t.Fatalf("control-plane joins %d, uploaded key %q", fc.cpJoins, fc.uploadedKey)
	}
	for _, s := range fc.scripts {
		for _, secret := range []string{fc.uploadedKey, "abcdef.0123456789abcdef", "ghijkl.0123456789abcdef"} {
			if strings.Contains(s, secret) {
				t.Errorf("a remote command line holds a secret: %s", s)
			}
		}
		if strings.Contains(s, ".yaml.tmp") && strings.Contains(s, "cat >") && !strings.Contains(s, "chmod 0600") {
			t.Errorf("a config is written readable by others: %s", s)
		}
	}
	if len(fc.ran("remove "+upDir+"/upload-certs.yaml")) != 1 {
		t.Errorf("the configuration with the certificate key was not removed: %v", fc.log)
	}
	checkNoSecretFiles(t, fc)
}

func TestSecretFilesAreRemovedWhenTheRunIsCancelled(t *testing.T) {
	for _, at := range []string{
		"kubestrap init phase upload-certs",
		"write " + upDir + "/upload-certs.yaml",
		"kubestrap join",
		"write " + upDir + "/join.yaml",
	} {
		t.Run(at, func(t *testing.T) {
			fc := newFakeCluster()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fc.interrupt, fc.cancel = at, cancel
			_, err := Up(ctx, haCluster(t), Options{Dial: fc.dial})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("up interrupted at %q: %v", at, err)
			}
			checkNoSecretFiles(t, fc)
			if len(fc.undeadlined) > 0 {
				t.Errorf("removals without a timeout of their own: %v", fc.undeadlined)
			}
		})
	}
}

func TestDownRemovesWhatUpPutOnTheHosts(t *testing.T) {
	fc := newFakeCluster()
	ctx := context.Background()
	c := testCluster(t, 1)
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	fc.log = nil
	if _, err := Down(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	for id, m := range fc.hosts {
		for p := range m.files {
			if strings.HasPrefix(p, upDir+"/") {
				t.Errorf("%s: %s left after down", id, p)
			}
		}
		var steps []string
		for _, l := range fc.log {
			if l == id+" kubestrap reset" || l == id+" remove "+upDir {
				steps = append(steps, l)
			}
		}
		if len(steps) != 2 || steps[1] != id+" remove "+upDir {
			t.Errorf("%s: steps %v, want the reset, then the removal of %s", id, steps, upDir)
		}
	}
	rep, err := Down(ctx, c, Options{Dial: fc.dial})
	if err != nil || rep.Changed {
		t.Errorf("second down: changed=%v err=%v (%+v)", rep.Changed, err, rep.Hosts)
	}
}
