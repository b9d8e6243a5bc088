package fleet

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubestrap/kubestrap/config"
)

func TestUpRunsInitOnTheHostWithInitsRecordWhateverTheOrder(t *testing.T) {
	fc := newFakeCluster()
	ctx := context.Background()
	c := haCluster(t)
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	// The file now lists the joined control plane first.
	hs := c.Spec.Hosts
	c.Spec.Hosts = []Host{hs[2], hs[0], hs[1]}
	fc.log = nil
	rep, err := Up(ctx, c, Options{Dial: fc.dial})
	if err != nil {
		t.Fatal(err)
	}
	if got := fc.ran("kubestrap init"); len(got) != 1 || got[0] != "10.0.0.1 kubestrap init" {
		t.Errorf("init ran %v, want only on 10.0.0.1, the host with init's record", got)
	}
	if _, rec := fc.hosts["10.0.0.7"].files[initRecordPath]; rec || rep.Changed {
		t.Errorf("the joined control plane was initialized again (changed=%v)", rep.Changed)
	}
}

// grownCluster is haCluster with one more worker, after haCluster is up.
func grownCluster(t *testing.T, fc *fakeCluster) *Cluster {
	t.Helper()
	c := haCluster(t)
	if _, err := Up(context.Background(), c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	c.Spec.Hosts = append(c.Spec.Hosts, Host{Address: "10.0.0.3", Role: RoleWorker, SSH: c.Spec.Hosts[0].SSH})
	fc.log = nil
	return c
}

func TestUpJoinsThroughAnotherControlPlaneWhenTheInitHostIsDown(t *testing.T) {
	for _, how := range []string{"unreachable", "unhealthy"} {
		t.Run(how, func(t *testing.T) {
			fc := newFakeCluster()
			c := grownCluster(t, fc)
			if how == "unreachable" {
				fc.unreachable["10.0.0.1"] = true
			} else {
				fc.failInit["10.0.0.1"] = true
			}
			_, err := Up(context.Background(), c, Options{Dial: fc.dial})
			if err == nil || !strings.Contains(err.Error(), "10.0.0.1") {
				t.Errorf("up did not report the init host: %v", err)
			}
			if got := fc.ran("kubestrap join"); len(got) != 1 || got[0] != "10.0.0.3 kubestrap join" {
				t.Fatalf("joins %v, want the new worker's (%v)", got, err)
			}
			if got := fc.ran("kubestrap token create"); len(got) != 1 || got[0] != "10.0.0.7 kubestrap token create" {
				t.Errorf("token made by %v, want by the other control plane 10.0.0.7", got)
			}
		})
	}
}

func TestUpStartsNoClusterWhileAControlPlaneIsUnreachable(t *testing.T) {
	fc := newFakeCluster()
	fc.unreachable["10.0.0.1"] = true
	_, err := Up(context.Background(), haCluster(t), Options{Dial: fc.dial})
	if err == nil || !strings.Contains(err.Error(), "cannot tell whether the cluster exists") {
		t.Fatalf("error %v", err)
	}
	if got := fc.ran("kubestrap init"); len(got) != 0 {
		t.Errorf("init ran while the first control plane was unreachable: %v", got)
	}
}

func TestAControlPlaneAddedLaterJoinsAsAControlPlane(t *testing.T) {
	fc := newFakeCluster()
	ctx := context.Background()
	c := testCluster(t, 1)
	c.Spec.Cluster = &config.ClusterConfiguration{ControlPlaneEndpoint: "10.0.0.100:6443"}
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	c.Spec.Hosts = append(c.Spec.Hosts, Host{Address: "10.0.0.7", Role: RoleControlPlane, SSH: c.Spec.Hosts[0].SSH, NodeIP: "10.0.0.7"})
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	if fc.cpJoins != 1 || len(fc.uploadedKey) != 64 {
		t.Fatalf("control-plane joins %d, uploaded key %q", fc.cpJoins, fc.uploadedKey)
	}
	cfg := string(fc.hosts["10.0.0.1"].files[upDir+"/init.yaml"])
	if strings.Contains(cfg, "uploadCerts") {
		t.Errorf("init's config changed from what init recorded:\n%s", cfg)
	}
}

func TestAReusedTokenNeedsHalfAnHourLeft(t *testing.T) {
	for _, tc := range []struct {
		left   time.Duration
		tokens int
	}{{10 * time.Minute, 1}, {2 * time.Hour, 0}} {
		t.Run(tc.left.String(), func(t *testing.T) {
			fc := newFakeCluster()
			ctx := context.Background()
			if _, err := Up(ctx, testCluster(t, 1), Options{Dial: fc.dial}); err != nil {
				t.Fatal(err)
			}
			fc.initTokenExpires = time.Now().Add(tc.left).UTC().Format(time.RFC3339)
			if _, err := Up(ctx, testCluster(t, 2), Options{Dial: fc.dial}); err != nil {
				t.Fatal(err)
			}
			if fc.tokens != tc.tokens {
				t.Errorf("init's token with %s left: %d tokens made, want %d", tc.left, fc.tokens, tc.tokens)
			}
			if got := fc.ran("kubestrap join"); len(got) != 2 {
				t.Errorf("joins %v", got)
			}
		})
	}
}

func TestEmptyTaintsReachInit(t *testing.T) {
	doc := validCluster + "  init: {nodeRegistration: {taints: []}}\n"
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	h := &hostRun{Host: c.Spec.Hosts[0]}
	got, err := initConfig(c, h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "\n  taints: []\n") {
		t.Fatalf("taints: [] was dropped:\n%s", got)
	}
	// Otherwise the config is what config.MarshalInit renders.
	want, err := config.MarshalInit(initDocs(c, h.Host))
	if err != nil {
		t.Fatal(err)
	}
	if withoutTaints(got) != withoutTaints(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	loaded, err := config.LoadInit(writeTemp(t, got), nil)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.NodeRegistration.Taints == nil {
		t.Errorf("kubestrap reads the config as having no taints field")
	}
	c, _ = Parse([]byte(validCluster))
	if got, _ := initConfig(c, &hostRun{Host: c.Spec.Hosts[0]}); strings.Contains(string(got), "taints") {
		t.Errorf("taints where the file has none:\n%s", got)
	}
}

// withoutTaints drops the lines an empty taints list changes.
func withoutTaints(doc []byte) string {
	var keep []string
	for _, l := range strings.Split(string(doc), "\n") {
		if l != "  taints: []" && l != "nodeRegistration: {}" && l != "nodeRegistration:" {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := t.TempDir() + "/init.yaml"
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClusterNameMustBeAPlainName(t *testing.T) {
	for _, name := range []string{"../../etc/cron.d/x", "a/b", "..", "lab.admin", "-x", strings.Repeat("a", 64)} {
		doc := strings.Replace(validCluster, "metadata: {name: lab}", "metadata: {name: '"+name+"'}", 1)
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "metadata.name") || !strings.Contains(err.Error(), "NAME.admin.conf") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	for _, name := range []string{"", "lab", "my-cluster-2", "Lab"} {
		doc := strings.Replace(validCluster, "metadata: {name: lab}", "metadata: {name: '"+name+"'}", 1)
		if _, err := Parse([]byte(doc)); err != nil {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

func TestAnInterruptedUploadLeavesNoOldChecksum(t *testing.T) {
	fc := newFakeCluster()
	c := testCluster(t, 0)
	if _, err := Up(context.Background(), c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(c.Spec.Release)
	if err := os.WriteFile(c.Spec.Release, append([]byte("new "), old...), 0o644); err != nil {
		t.Fatal(err)
	}
	remote := remoteRelease(c.Spec.Release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fc.interrupt, fc.cancel = "check "+remote, cancel
	if _, err := Up(ctx, c, Options{Dial: fc.dial}); err == nil {
		t.Fatal("up was not interrupted")
	}
	if sum, left := fc.hosts["10.0.0.1"].files[remote+".sha256"]; left {
		t.Fatalf("the old checksum %q is beside the new file", sum)
	}
	fc.interrupt, fc.log = "", nil
	if err := os.WriteFile(c.Spec.Release, old, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Up(context.Background(), c, Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	if got := fc.ran("write " + remote); len(got) != 1 {
		t.Errorf("the old release was not uploaded again over the new one: %v", got)
	}
}
