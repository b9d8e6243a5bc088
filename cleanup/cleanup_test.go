package cleanup_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/cleanup/cleanuptest"
	"github.com/kubestrap/kubestrap/node"
)

func write(t *testing.T, root node.Root, files ...string) {
	t.Helper()
	for _, f := range files {
		p := root.Path(f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCleanRemovesOnlyOwnedFiles(t *testing.T) {
	owned := cleanup.Owned{Entries: []string{"admin.conf", "pki"}, Dirs: map[string]cleanup.Owned{"manifests": {Entries: []string{"etcd.yaml"}}}}
	for _, dry := range []bool{true, false} {
		root := node.Root(t.TempDir())
		write(t, root, "/etc/k/admin.conf", "/etc/k/.admin.conf.tmp-123", "/etc/k/pki/ca.crt", "/etc/k/manifests/etcd.yaml",
			"/etc/k/manifests/kube-vip.yaml", "/etc/k/notes.txt")
		r := &cleanup.Report{DryRun: dry}
		gone, err := cleanup.Files{Root: root, DryRun: dry, Report: r}.Clean("/etc/k", owned)
		if err != nil || gone {
			t.Fatalf("dry %v: gone %v err %v, want the dir kept for its unknown files", dry, gone, err)
		}
		s := r.Snapshot()
		want := []string{"/etc/k/.admin.conf.tmp-123", "/etc/k/admin.conf", "/etc/k/manifests/etcd.yaml", "/etc/k/pki"}
		if !reflect.DeepEqual(s.Removed, want) {
			t.Errorf("dry %v: removed %v, want %v", dry, s.Removed, want)
		}
		if len(s.Left) != 2 || s.Left[0].What != "/etc/k/manifests/kube-vip.yaml" || s.Left[1].What != "/etc/k/notes.txt" {
			t.Errorf("dry %v: left %+v", dry, s.Left)
		}
		for _, p := range want {
			if _, err := os.Stat(root.Path(p)); (err == nil) != dry {
				t.Errorf("dry %v: %s: %v", dry, p, err)
			}
		}
	}
	// Only owned files: the directory goes too, and a second run finds nothing.
	root := node.Root(t.TempDir())
	write(t, root, "/etc/k/admin.conf", "/etc/k/manifests/etcd.yaml")
	r := &cleanup.Report{}
	if gone, err := (cleanup.Files{Root: root, Report: r}).Clean("/etc/k", owned); !gone || err != nil {
		t.Fatalf("gone %v err %v", gone, err)
	}
	if root.Exists("/etc/k") || !r.Changed() {
		t.Errorf("dir left or no change reported: %+v", r.Snapshot())
	}
	r = &cleanup.Report{}
	if gone, err := (cleanup.Files{Root: root, Report: r}).Clean("/etc/k", owned); !gone || err != nil || r.Changed() {
		t.Errorf("second run: gone %v err %v report %+v", gone, err, r.Snapshot())
	}
}

func TestSafeToRemove(t *testing.T) {
	for p, ok := range map[string]bool{"/var/lib/etcd": true, "/data/etcd": true, "/": false, "/var": false, "var/lib/etcd": false, "/var/": false} {
		if err := cleanup.SafeToRemove(p); (err == nil) != ok {
			t.Errorf("%q: %v", p, err)
		}
	}
}

func TestMountsBelowDeepestFirst(t *testing.T) {
	root := node.Root(t.TempDir())
	mounts := strings.Join([]string{
		"/dev/sda1 / ext4 rw 0 0",
		"tmpfs /var/lib/kubelet/pods/a/volumes/kubernetes.io~projected/kube-api-access tmpfs rw 0 0",
		"/dev/sda1 /var/lib/kubelet/pods/a/volumes/x\\040y ext4 rw 0 0",
		"/dev/sda1 /var/lib/kubelet/pods/a ext4 rw 0 0",
		"/dev/sda1 /var/lib/kubelet/pods/a ext4 rw 0 0",
		"/dev/sda1 /var/lib/kubelet ext4 rw 0 0",
		"/dev/sda1 /var/lib/kubelet-other/x ext4 rw 0 0",
	}, "\n")
	if err := os.MkdirAll(root.Path("/proc/self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path(cleanup.MountsFile), []byte(mounts), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := cleanup.MountsBelow(root, "/var/lib/kubelet")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/var/lib/kubelet/pods/a/volumes/kubernetes.io~projected/kube-api-access", "/var/lib/kubelet/pods/a/volumes/x y",
		"/var/lib/kubelet/pods/a", "/var/lib/kubelet/pods/a"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	var calls []string
	done, err := cleanup.Unmount(root, want, func(target string, flags int) error {
		calls = append(calls, strings.TrimPrefix(target, string(root))+map[int]string{0: "", syscall.MNT_DETACH: " (detach)"}[flags])
		switch {
		case strings.HasSuffix(target, "x y") && flags == 0:
			return syscall.EBUSY
		case len(calls) == 5: // the second of the stacked mounts is gone already
			return syscall.EINVAL
		}
		return nil
	})
	if err != nil || len(done) != 3 {
		t.Fatalf("done %q err %v (calls %q)", done, err, calls)
	}
	if calls[1] != "/var/lib/kubelet/pods/a/volumes/x y" || calls[2] != "/var/lib/kubelet/pods/a/volumes/x y (detach)" {
		t.Errorf("no lazy unmount after EBUSY: %q", calls)
	}
}

func TestRemovePods(t *testing.T) {
	pod := func(id, name string) *runtimeapi.PodSandbox {
		return &runtimeapi.PodSandbox{Id: id, Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "kube-system"}}
	}
	rt := &cleanuptest.Runtime{Fail: map[string]error{"bad": errors.New("boom")}, Pods: []*runtimeapi.PodSandbox{pod("p1", "etcd-cp-1"), pod("bad", "kube-proxy-x"), pod("p2", "coredns-y")},
		Containers: []*runtimeapi.Container{{Id: "c9", Metadata: &runtimeapi.ContainerMetadata{Name: "stray"}}}}
	removed, err := cleanup.RemovePods(context.Background(), rt, time.Second, true)
	if err != nil || len(removed) != 3 || len(rt.Calls) != 0 {
		t.Fatalf("dry run: %q %v, calls %q", removed, err, rt.Calls)
	}
	removed, err = cleanup.RemovePods(context.Background(), rt, time.Second, false)
	if err == nil || !strings.Contains(err.Error(), "pod kube-system/kube-proxy-x: boom") {
		t.Errorf("a failing pod is not reported: %v", err)
	}
	want := []string{"pod kube-system/etcd-cp-1", "pod kube-system/coredns-y", "container stray (c9)"}
	if !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	if strings.Join(rt.Calls, ",") != "stop p1,remove p1,stop bad,remove bad,stop p2,remove p2,remove container c9" {
		t.Errorf("calls %q", rt.Calls)
	}
}

func TestDeleteLinks(t *testing.T) {
	l := cleanuptest.Links{"cni0": true, "eth0": true}
	if gone, err := cleanup.DeleteLinks(l, []string{"cni0", "flannel.1"}, true); err != nil || len(gone) != 1 || !l["cni0"] {
		t.Fatalf("dry run: %v %v %v", gone, err, l)
	}
	if gone, err := cleanup.DeleteLinks(l, []string{"cni0", "flannel.1"}, false); err != nil || len(gone) != 1 || l["cni0"] || !l["eth0"] {
		t.Fatalf("%v %v %v", gone, err, l)
	}
}

func TestRemoveChains(t *testing.T) {
	ipt := &cleanuptest.IPTables{Rules: map[string]map[string][]string{
		"filter": {
			"INPUT": {"-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
				"-A INPUT -j ACCEPT", "-A INPUT -j KUBE-FIREWALL"},
			"FORWARD":        {"-A FORWARD -j FLANNEL-FWD"},
			"KUBE-NODEPORTS": {"-A KUBE-NODEPORTS -j KUBE-MARK-DROP"},
			"KUBE-MARK-DROP": {"-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000"},
			"KUBE-FIREWALL":  nil,
			"FLANNEL-FWD":    {"-A FLANNEL-FWD -s 10.244.0.0/16 -j ACCEPT"},
			"DOCKER":         {"-A DOCKER -j RETURN"},
		},
		"nat": {"POSTROUTING": {"-A POSTROUTING -j MASQUERADE"}},
	}}
	res, err := cleanup.RemoveChains(ipt, []string{"filter", "nat", "mangle"}, []string{"KUBE-", "FLANNEL"}, true)
	if err != nil || len(res) != 1 || res[0].Jumps != 3 || len(res[0].Chains) != 4 || len(ipt.Calls) != 0 {
		t.Fatalf("dry run: %+v %v %q", res, err, ipt.Calls)
	}
	if _, err := cleanup.RemoveChains(ipt, []string{"filter", "nat", "mangle"}, []string{"KUBE-", "FLANNEL"}, false); err != nil {
		t.Fatal(err)
	}
	left, _ := ipt.ListChains("filter")
	if len(left) != 3 || ipt.Rules["filter"]["INPUT"][0] != "-A INPUT -j ACCEPT" || len(ipt.Rules["filter"]["INPUT"]) != 1 {
		t.Errorf("left chains %v, INPUT %q", left, ipt.Rules["filter"]["INPUT"])
	}
	// Each jump goes by its spec, the quoted comment included.
	if !strings.HasSuffix(ipt.Calls[1], "KUBE-NODEPORTS") || !strings.HasSuffix(ipt.Calls[2], "INPUT -j KUBE-FIREWALL") {
		t.Errorf("calls %q", ipt.Calls)
	}
	if res, err := cleanup.RemoveChains(ipt, []string{"filter"}, []string{"KUBE-", "FLANNEL"}, false); err != nil || len(res) != 0 {
		t.Errorf("second run: %+v %v", res, err)
	}
}

func TestIPVSServices(t *testing.T) {
	root := node.Root(t.TempDir())
	if n, ok, err := cleanup.IPVSServices(root); n != 0 || ok || err != nil {
		t.Fatalf("no ip_vs: %d %v %v", n, ok, err)
	}
	write(t, root, cleanup.IPVSFile)
	ipvs := "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\nTCP  0A600001:01BB rr\n  -> C0A8380A:192B Masq 1 0 0\nUDP  0A60000A:0035 rr\n"
	if err := os.WriteFile(root.Path(cleanup.IPVSFile), []byte(ipvs), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := cleanup.IPVSServices(root); n != 2 || !ok || err != nil {
		t.Fatalf("%d %v %v", n, ok, err)
	}
}

func TestReportJSONShape(t *testing.T) {
	var empty map[string]any
	b, _ := json.Marshal(&cleanup.Report{})
	if err := json.Unmarshal(b, &empty); err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"changed":false,"removed":[],"left":[]}` {
		t.Errorf("empty report: %s", b)
	}
	r := &cleanup.Report{}
	r.Removed("/etc/kubernetes/admin.conf")
	r.Leave(cleanup.Left{What: "w", Why: "y", HowToRevert: "h"})
	b, _ = json.Marshal(r)
	if string(b) != `{"changed":true,"removed":["/etc/kubernetes/admin.conf"],"left":[{"what":"w","why":"y","howToRevert":"h"}]}` {
		t.Errorf("report: %s", b)
	}
	d := &cleanup.Report{DryRun: true}
	d.Removed("x")
	if b, _ = json.Marshal(d); string(b) != `{"changed":false,"removed":["x"],"left":[],"dryRun":true}` {
		t.Errorf("dry-run report: %s", b)
	}
}

func TestSelfBindMount(t *testing.T) {
	for _, tc := range []struct {
		name, info string
		want       bool
	}{
		{"the kubelet's bind of itself on a volume at /var", "22 1 0:30 / / rw - overlay overlay rw\n" +
			"40 22 8:1 /docker/volumes/v/_data /var rw - ext4 /dev/sda1 rw\n" +
			"90 40 8:1 /docker/volumes/v/_data/lib/kubelet /var/lib/kubelet rw shared:5 - ext4 /dev/sda1 rw\n", true},
		{"on the root file system", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
			"90 22 8:1 /var/lib/kubelet /var/lib/kubelet rw shared:5 - ext4 /dev/sda1 rw\n", true},
		{"an admin's own volume", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
			"90 22 8:17 / /var/lib/kubelet rw - xfs /dev/sdb1 rw\n", false},
		{"not a mount point", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node.Root(t.TempDir())
			if err := os.MkdirAll(root.Path("/proc/self"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(root.Path(cleanup.MountInfoFile), []byte(tc.info), 0o644); err != nil {
				t.Fatal(err)
			}
			if got, err := cleanup.SelfBindMount(root, "/var/lib/kubelet"); err != nil || got != tc.want {
				t.Errorf("SelfBindMount = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// After reset, kube-proxy's empty filter/nat/mangle tables go; a table
// with anything in it (Docker's, a DROP policy) stays.
func TestRemoveUnusedTables(t *testing.T) {
	filter, nat, nat6 := node.NFTable{Family: "ip", Name: "filter"}, node.NFTable{Family: "ip", Name: "nat"},
		node.NFTable{Family: "ip6", Name: "nat"}
	n := &cleanuptest.NFT{Present: []node.NFTable{filter, nat, nat6}, Used: map[node.NFTable]bool{nat: true}}
	if gone, err := cleanup.RemoveUnusedTables(n, true); err != nil || len(gone) != 2 || len(n.Deleted) != 0 {
		t.Fatalf("dry run: %v, %v, deleted %v", gone, err, n.Deleted)
	}
	gone, err := cleanup.RemoveUnusedTables(n, false)
	if err != nil || !reflect.DeepEqual(n.Deleted, []node.NFTable{filter, nat6}) || len(gone) != 2 {
		t.Fatalf("gone %v, %v, deleted %v", gone, err, n.Deleted)
	}
	if again, _ := cleanup.RemoveUnusedTables(n, false); len(again) != 0 {
		t.Errorf("second run removed %v", again)
	}
}
