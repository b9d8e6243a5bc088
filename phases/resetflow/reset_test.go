package resetflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kubestrap/kubestrap/cleanup/cleanuptest"
	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/node/nodetest"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/initflow"
	"github.com/kubestrap/kubestrap/phases/joinflow"
	"github.com/kubestrap/kubestrap/phases/phasestest"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/staticpods"
	"github.com/kubestrap/kubestrap/systemd/systemdtest"
)

// fakeEtcd is an etcd cluster as clientv3 shows it; the methods reset does
// not use panic through the nil Cluster.
type fakeEtcd struct {
	clientv3.Cluster
	members   []*pb.Member
	down      map[string]bool
	endpoints []string
	removed   []uint64
}

func (f *fakeEtcd) MemberList(context.Context, ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	return &clientv3.MemberListResponse{Members: f.members}, nil
}

func (f *fakeEtcd) MemberRemove(_ context.Context, id uint64) (*clientv3.MemberRemoveResponse, error) {
	f.removed = append(f.removed, id)
	for i, m := range f.members {
		if m.ID == id {
			f.members = append(f.members[:i:i], f.members[i+1:]...)
		}
	}
	return &clientv3.MemberRemoveResponse{}, nil
}

func (f *fakeEtcd) Status(_ context.Context, ep string) (*clientv3.StatusResponse, error) {
	if f.down[ep] {
		return nil, errors.New("connection refused")
	}
	return &clientv3.StatusResponse{}, nil
}

func (f *fakeEtcd) SetEndpoints(eps ...string) { f.endpoints = eps }

func member(id uint64, name, ip string) *pb.Member {
	return &pb.Member{ID: id, Name: name, PeerURLs: []string{"https://" + ip + ":2380"}, ClientURLs: []string{"https://" + ip + ":2379"}}
}

// usedNode is control-plane node cp-1 after init: kubestrap's files,
// pods, a pod volume mount, the pod network and preflight --fix's edits,
// plus an admin's files that reset must leave.
type usedNode struct {
	env    *node.Host
	sd     *systemdtest.Fake
	client *fake.Clientset
	rt     *cleanuptest.Runtime
	links  cleanuptest.Links
	ipt    *cleanuptest.IPTables
	etcd   *fakeEtcd
}

func newUsedNode(t *testing.T) *usedNode { return newUsedNodeWith(t, nil) }

func newUsedNodeWith(t *testing.T, mutate func(*config.Init)) *usedNode {
	t.Helper()
	env := nodetest.FakeHost(t)
	cfg := phasestest.InitConfig(t, mutate)
	img, err := images.Images(&cfg.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{staticpods.EtcdPod(cfg, img), staticpods.APIServerPod(cfg, img)} {
		if _, _, err := staticpods.Write(env.Root.Path("/etc/kubernetes/manifests"), p); err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := initflow.InitRecordFor(cfg)
	nodetest.WriteFile(t, env.Root.Path("/etc/kubernetes/kubestrap-init.yaml"), string(rec))
	for _, f := range []string{"/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/kubelet.conf",
		"/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/scheduler.conf", "/etc/kubernetes/pki/ca.crt",
		"/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
		"/etc/kubernetes/pki/etcd/healthcheck-client.key", "/var/lib/kubelet/config.yaml",
		"/var/lib/kubelet/pods/a/volumes/v/data", "/var/lib/etcd/member/snap/db", "/etc/cni/net.d/10-kubestrap.conflist",
		"/run/flannel/subnet.env", "/var/lib/cni/networks/kubestrap/10.244.0.2", "/var/lib/cni/results/kubestrap-abc-eth0",
		"/etc/systemd/system/kubelet.service", "/etc/systemd/system/kubelet.service.d/10-kubestrap.conf",
		"/usr/local/bin/kubelet",
		"/etc/systemd/system/kubestrap-certs-renew.timer", "/etc/systemd/system/kubestrap-certs-renew.service",
		"/etc/systemd/system/kubestrap-etcd-snapshot.timer", "/etc/systemd/system/kubestrap-etcd-snapshot.service",
		// An admin's files.
		"/etc/kubernetes/manifests/kube-vip.yaml", "/etc/kubernetes/notes.txt", "/etc/cni/net.d/99-other.conflist",
		// preflight --fix's edits.
		"/etc/containerd/config.toml.kubestrap-backup-20250101T000000Z", "/etc/sysctl.d/99-kubestrap.conf",
		"/etc/modules-load.d/kubestrap.conf", "/etc/fstab.kubestrap-backup-20250101T000000Z"} {
		nodetest.WriteFile(t, env.Root.Path(f), "x\n")
	}
	nodetest.WriteFile(t, env.Root.Path("/proc/self/mounts"), "/dev/sda1 / ext4 rw 0 0\n"+
		"tmpfs /var/lib/kubelet/pods/a/volumes/v tmpfs rw 0 0\n")
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}})
	reg, _ := join.NewRegistry()
	if _, err := client.CoreV1().ConfigMaps("kube-system").Create(context.Background(), reg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := join.Register(context.Background(), client, "cp-1", join.Identity{MachineID: "0123"}); err != nil {
		t.Fatal(err)
	}
	pod := func(id, name string) *runtimeapi.PodSandbox {
		return &runtimeapi.PodSandbox{Id: id, Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "kube-system"}}
	}
	return &usedNode{env: env, sd: &systemdtest.Fake{}, client: client,
		rt:    &cleanuptest.Runtime{Pods: []*runtimeapi.PodSandbox{pod("p1", "etcd-cp-1"), pod("p2", "kube-proxy-x")}},
		links: cleanuptest.Links{"cni0": true, "flannel.1": true, "eth0": true},
		ipt: &cleanuptest.IPTables{Rules: map[string]map[string][]string{
			"filter": {"INPUT": {"-A INPUT -j KUBE-FIREWALL", "-A INPUT -j ACCEPT"}, "KUBE-FIREWALL": {"-A KUBE-FIREWALL -j DROP"}},
			"nat": {"POSTROUTING": {"-A POSTROUTING -j FLANNEL-POSTRTG"}, "FLANNEL-POSTRTG": {"-A FLANNEL-POSTRTG -j RETURN"},
				"KUBE-SERVICES": nil},
		}},
		etcd: &fakeEtcd{members: []*pb.Member{member(1, "cp-1", "192.168.56.10")}},
	}
}

func (n *usedNode) data(dryRun, force bool) ResetData {
	cleanuptest.Reach(n.env, n.rt, n.links, n.ipt)
	return NewResetData(ResetOptions{DryRun: dryRun, Force: force, Out: &bytes.Buffer{}, Env: n.env, Systemd: n.sd,
		Client:     n.client,
		EtcdClient: func([]string, etcd.TLSFiles) (EtcdCluster, error) { return n.etcd, nil }})
}

func (n *usedNode) exists(p string) bool {
	_, err := os.Stat(n.env.Root.Path(p))
	return err == nil
}

func (n *usedNode) mounts(t *testing.T) string {
	b, err := os.ReadFile(n.env.Root.Path("/proc/self/mounts"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every reset phase run alone on a used node does its own work and leaves
// the rest; none needs an earlier phase.
func TestEveryResetPhaseRunsAlone(t *testing.T) {
	checks := map[string]func(t *testing.T, n *usedNode, d ResetData, out string){
		"remove-etcd-member": func(t *testing.T, n *usedNode, _ ResetData, out string) {
			if len(n.etcd.removed) != 0 || !strings.Contains(out, "is the only one: not removed") {
				t.Errorf("the only member: %v\n%s", n.etcd.removed, out)
			}
		},
		"delete-node": func(t *testing.T, n *usedNode, _ ResetData, _ string) {
			if _, err := n.client.CoreV1().Nodes().Get(context.Background(), "cp-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("Node not deleted: %v", err)
			}
			cm, _ := n.client.CoreV1().ConfigMaps("kube-system").Get(context.Background(), join.IdentityRegistry, metav1.GetOptions{})
			if len(cm.Data) != 1 {
				t.Errorf("identity entries left: %v", cm.Data)
			}
		},
		"stop-kubelet": func(t *testing.T, n *usedNode, _ ResetData, _ string) {
			if got := strings.Join(n.sd.Called(), ","); got != "stop kubelet.service,disable kubelet.service,daemon-reload" {
				t.Errorf("systemd calls %s", got)
			}
			if n.exists("/etc/systemd/system/kubelet.service") || n.exists("/etc/systemd/system/kubelet.service.d") ||
				n.exists("/usr/local/bin/kubelet") {
				t.Error("kubelet unit or binary left")
			}
		},
		"remove-pods": func(t *testing.T, n *usedNode, _ ResetData, _ string) {
			if len(n.rt.Pods) != 0 {
				t.Errorf("pods left: %v", n.rt.Pods)
			}
		},
		"unmount": func(t *testing.T, n *usedNode, _ ResetData, _ string) {
			if strings.Contains(n.mounts(t), "/var/lib/kubelet") {
				t.Errorf("still mounted:\n%s", n.mounts(t))
			}
		},
		"remove-files": func(t *testing.T, n *usedNode, d ResetData, _ string) {
			for _, p := range []string{"/etc/kubernetes/admin.conf", "/etc/kubernetes/pki", "/etc/kubernetes/manifests/etcd.yaml",
				"/etc/kubernetes/kubestrap-init.yaml", "/var/lib/etcd"} {
				if n.exists(p) {
					t.Errorf("%s left", p)
				}
			}
			// Still mounted: removing it would delete a pod volume's data.
			if !n.exists("/var/lib/kubelet/pods/a/volumes/v/data") {
				t.Error("removed /var/lib/kubelet with a volume mounted below it")
			}
			left := leftWhat(d)
			for _, want := range []string{"/etc/kubernetes/manifests/kube-vip.yaml", "/etc/kubernetes/notes.txt", "/var/lib/kubelet"} {
				if !n.exists(want) || !strings.Contains(left, want) {
					t.Errorf("%s not left or not reported (left: %s)", want, left)
				}
			}
		},
		"timers": func(t *testing.T, n *usedNode, _ ResetData, _ string) {
			for _, u := range []string{"kubestrap-certs-renew.timer", "kubestrap-certs-renew.service",
				"kubestrap-etcd-snapshot.timer", "kubestrap-etcd-snapshot.service"} {
				if n.exists("/etc/systemd/system/" + u) {
					t.Errorf("%s left", u)
				}
			}
			if got := strings.Join(n.sd.Called(), ","); !strings.Contains(got,
				"disable-now kubestrap-certs-renew.timer,disable-now kubestrap-etcd-snapshot.timer") {
				t.Errorf("timers not disabled: %s", got)
			}
		},
		"network/cni-config": func(t *testing.T, n *usedNode, _ ResetData, _ string) {
			if n.exists("/etc/cni/net.d/10-kubestrap.conflist") || n.exists("/run/flannel") ||
				n.exists("/var/lib/cni/networks/kubestrap") || n.exists("/var/lib/cni/results/kubestrap-abc-eth0") {
				t.Error("CNI state left")
			}
			if !n.exists("/etc/cni/net.d/99-other.conflist") {
				t.Error("removed another network's config")
			}
		},
		"network/links": func(t *testing.T, n *usedNode, _ ResetData, _ string) {
			if !reflect.DeepEqual(n.links, cleanuptest.Links{"eth0": true}) {
				t.Errorf("links %v", n.links)
			}
		},
		"network/iptables": func(t *testing.T, n *usedNode, _ ResetData, _ string) {
			for _, table := range []string{"filter", "nat"} {
				if chains, _ := n.ipt.ListChains(table); len(chains) != 1 {
					t.Errorf("%s chains left: %v", table, chains)
				}
			}
		},
		"network/ipvs": func(t *testing.T, _ *usedNode, _ ResetData, out string) {
			if !strings.Contains(out, "kube-proxy did not run in ipvs mode (no kube-ipvs0): IPVS left alone") {
				t.Errorf("output:\n%s", out)
			}
		},
		"preflight-fixes": func(t *testing.T, _ *usedNode, d ResetData, _ string) {
			left := leftWhat(d)
			for _, want := range []string{"/etc/containerd/config.toml", "/etc/sysctl.d/99-kubestrap.conf",
				"/etc/modules-load.d/kubestrap.conf", "swap off"} {
				if !strings.Contains(left, want) {
					t.Errorf("%s not reported as left: %s", want, left)
				}
			}
			if d.Report().Changed() {
				t.Error("reporting changed the host")
			}
		},
	}
	r := &phases.Runner{Command: "reset", Phases: ResetPhases()}
	for _, path := range r.Paths() {
		t.Run(path, func(t *testing.T) {
			n := newUsedNode(t)
			d := n.data(false, false)
			out, err := phasestest.RunAlone(t, r, path, d)
			if err != nil {
				t.Fatal(err)
			}
			if check := checks[path]; check != nil {
				check(t, n, d, out)
			} else if path != "network" {
				t.Errorf("no check for phase %s", path)
			}
		})
	}
}

func leftWhat(d ResetData) string {
	var s []string
	for _, l := range d.Report().Snapshot().Left {
		s = append(s, l.What)
	}
	return strings.Join(s, "\n")
}

// A whole reset leaves a clean host but for the admin's files and
// preflight --fix's edits, reports it as JSON, lets init run again, and a
// second reset changes nothing.
func TestResetThenResetAgain(t *testing.T) {
	n := newUsedNode(t)
	d := n.data(false, false)
	var out bytes.Buffer
	if err := (&phases.Runner{Command: "reset", Phases: ResetPhases(), Out: &out}).Run(context.Background(), d); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var got map[string]any
	b, _ := json.Marshal(d.Report())
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "changed,left,removed" || got["changed"] != true {
		t.Fatalf("report %s", b)
	}
	for _, l := range got["left"].([]any) {
		if m := l.(map[string]any); m["what"] == "" || m["why"] == "" || len(m) != 3 {
			t.Errorf("left entry %v", m)
		}
	}
	var rest []string
	_ = filepath.Walk(n.env.Root.Path("/etc/kubernetes"), func(p string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			rest = append(rest, strings.TrimPrefix(p, string(n.env.Root)))
		}
		return nil
	})
	if strings.Join(rest, ",") != "/etc/kubernetes/manifests/kube-vip.yaml,/etc/kubernetes/notes.txt" {
		t.Errorf("left in /etc/kubernetes: %v", rest)
	}
	for _, p := range []string{"/var/lib/kubelet", "/var/lib/etcd", "/etc/cni/net.d/10-kubestrap.conflist", "/usr/local/bin/kubelet"} {
		if n.exists(p) {
			t.Errorf("%s left", p)
		}
	}
	// init and join see a fresh node.
	kubeDir := n.env.Root.Path("/etc/kubernetes")
	if done, err := initflow.PrepareInit(&bytes.Buffer{}, kubeDir, phasestest.InitConfig(t, nil), preflight.NewIgnoreSet()); done || err != nil {
		t.Errorf("init after reset: done %v, %v", done, err)
	}
	if done, err := joinflow.PrepareJoin(&bytes.Buffer{}, kubeDir, "cp-1", phasestest.JoinConfig(t), preflight.NewIgnoreSet()); done || err != nil {
		t.Errorf("join after reset: done %v, %v", done, err)
	}

	n.sd.State = "inactive"
	again := n.data(false, false)
	out.Reset()
	if err := (&phases.Runner{Command: "reset", Phases: ResetPhases(), Out: &out}).Run(context.Background(), again); err != nil {
		t.Fatalf("second reset: %v\n%s", err, out.String())
	}
	if s := again.Report().Snapshot(); s.Changed || len(s.Removed) != 0 {
		t.Errorf("second reset changed the host: %+v\n%s", s, out.String())
	}
	var text bytes.Buffer
	again.Report().WriteText(&text)
	if !strings.Contains(text.String(), "nothing to reset") || !strings.Contains(text.String(), "to revert: cp -p "+
		"/etc/containerd/config.toml.kubestrap-backup-20250101T000000Z /etc/containerd/config.toml") {
		t.Errorf("second report:\n%s", text.String())
	}
}

func TestResetDryRunChangesNothing(t *testing.T) {
	n := newUsedNode(t)
	d := n.data(true, false)
	var out bytes.Buffer
	if err := (&phases.Runner{Command: "reset", Phases: ResetPhases(), Out: &out}).Run(context.Background(), d); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := d.Report().Snapshot()
	if s.Changed || !s.DryRun || len(s.Removed) < 10 {
		t.Errorf("dry-run report %+v", s)
	}
	if len(n.sd.Called()) != 0 || len(n.rt.Calls) != 0 || len(n.links) != 3 || len(n.ipt.Calls) != 0 || len(n.etcd.removed) != 0 {
		t.Errorf("dry run changed something: systemd %v, CRI %v, links %v, iptables %v", n.sd.Called(), n.rt.Calls, n.links, n.ipt.Calls)
	}
	for _, p := range []string{"/etc/kubernetes/admin.conf", "/var/lib/kubelet/config.yaml", "/var/lib/etcd/member/snap/db",
		"/etc/systemd/system/kubelet.service", "/run/flannel/subnet.env"} {
		if !n.exists(p) {
			t.Errorf("dry run removed %s", p)
		}
	}
	if !strings.Contains(n.mounts(t), "/var/lib/kubelet/pods") {
		t.Error("dry run unmounted")
	}
}

func TestRemoveEtcdMemberKeepsQuorum(t *testing.T) {
	three := func(down ...string) *fakeEtcd {
		f := &fakeEtcd{members: []*pb.Member{member(1, "cp-1", "192.168.56.10"), member(2, "cp-2", "192.168.56.11"),
			member(3, "cp-3", "192.168.56.12")}, down: map[string]bool{}}
		for _, ip := range down {
			f.down["https://"+ip+":2379"] = true
		}
		return f
	}
	r := &phases.Runner{Command: "reset", Phases: ResetPhases()}

	n := newUsedNode(t)
	n.etcd = three()
	if _, err := phasestest.RunAlone(t, r, "remove-etcd-member", n.data(false, false)); err != nil || !reflect.DeepEqual(n.etcd.removed, []uint64{1}) {
		t.Fatalf("healthy cluster: removed %v, %v", n.etcd.removed, err)
	}
	if !reflect.DeepEqual(n.etcd.endpoints, []string{"https://192.168.56.11:2379", "https://192.168.56.12:2379"}) {
		t.Errorf("removal not sent through the other members: %v", n.etcd.endpoints)
	}

	// Two members left, one of them down: no quorum. The whole reset stops
	// before changing anything, and says how to proceed.
	n = newUsedNode(t)
	n.etcd = three("192.168.56.12")
	err := (&phases.Runner{Command: "reset", Phases: ResetPhases(), Out: &bytes.Buffer{}}).Run(context.Background(), n.data(false, false))
	var refused *EtcdRefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "pass -f") || len(n.etcd.removed) != 0 {
		t.Fatalf("quorum loss not refused: %v (removed %v)", err, n.etcd.removed)
	}
	if !n.exists("/etc/kubernetes/admin.conf") || len(n.sd.Called()) != 0 {
		t.Error("a refused reset changed the node")
	}
	// -f removes it anyway.
	if _, err := phasestest.RunAlone(t, r, "remove-etcd-member", n.data(false, true)); err != nil || len(n.etcd.removed) != 1 {
		t.Errorf("-f: removed %v, %v", n.etcd.removed, err)
	}

	n = newUsedNode(t)
	n.etcd = &fakeEtcd{members: []*pb.Member{member(2, "cp-2", "192.168.56.11")}}
	out, err := phasestest.RunAlone(t, r, "remove-etcd-member", n.data(false, false))
	if err != nil || !strings.Contains(out, "not in the etcd cluster") {
		t.Errorf("member already gone: %v\n%s", err, out)
	}
}

// A worker may not delete its own Node under the Node authorizer: reset
// says so and how to delete it, and goes on.
func TestDeleteNodeForbidden(t *testing.T) {
	n := newUsedNode(t)
	n.client.PrependReactor("delete", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "cp-1", errors.New("node authorizer"))
	})
	d := n.data(false, false)
	out, err := phasestest.RunAlone(t, &phases.Runner{Command: "reset", Phases: ResetPhases()}, "delete-node", d)
	if err != nil || !strings.Contains(out, "left Node cp-1: delete it with kubectl delete node cp-1") {
		t.Fatalf("%v\n%s", err, out)
	}
	if l := d.Report().Snapshot().Left; len(l) != 1 || l[0].HowToRevert != "kubectl delete node cp-1" {
		t.Errorf("left %+v", l)
	}
}

// The etcd data dir is the manifest's: a custom one goes, the default
// stays untouched.
func TestResetRemovesConfiguredEtcdDataDir(t *testing.T) {
	n := newUsedNodeWith(t, func(c *config.Init) { c.Cluster.Etcd.Local = &config.LocalEtcd{DataDir: "/data/etcd"} })
	nodetest.WriteFile(t, n.env.Root.Path("/data/etcd/member/snap/db"), "x")
	d := n.data(false, false)
	if got := d.EtcdDataDir(); got != "/data/etcd" {
		t.Fatalf("data dir %s", got)
	}
	if _, err := phasestest.RunAlone(t, &phases.Runner{Command: "reset", Phases: ResetPhases()}, "remove-files", d); err != nil {
		t.Fatal(err)
	}
	if n.exists("/data/etcd") || !n.exists("/var/lib/etcd/member/snap/db") {
		t.Error("removed the wrong etcd data dir")
	}
}

// remove-files alone (or after -f left the member) on a control plane whose
// member is still registered with live peers: the data dir stays, named
// with how to remove the member; once it is removed, the data goes.
func TestResetKeepsDataOfAMemberStillRegistered(t *testing.T) {
	n := newUsedNode(t)
	n.etcd.members = append(n.etcd.members, member(2, "cp-2", "192.168.56.11"))
	d := n.data(false, false)
	r := &phases.Runner{Command: "reset", Phases: ResetPhases()}
	if _, err := phasestest.RunAlone(t, r, "remove-files", d); err != nil {
		t.Fatal(err)
	}
	if !n.exists("/var/lib/etcd/member/snap/db") {
		t.Fatal("wiped the data of a member still registered with cp-2")
	}
	if left := leftWhat(d); !strings.Contains(left, "/var/lib/etcd") {
		t.Errorf("not reported as left: %s", left)
	}
	n.etcd.members = n.etcd.members[1:]
	if _, err := phasestest.RunAlone(t, r, "remove-files", n.data(false, false)); err != nil {
		t.Fatal(err)
	}
	if n.exists("/var/lib/etcd/member") {
		t.Error("kept the data of a member no longer registered")
	}
}

// kube-proxy in ipvs mode next to keepalived's LVS virtual server for the
// API VIP: reset deletes kube-proxy's services one by one (on kube-ipvs0 or
// in the Service CIDR) and leaves the VIP; no --clear.
func TestResetIPVSDeletesOnlyKubeProxysServices(t *testing.T) {
	n := newUsedNode(t)
	nodetest.WriteFile(t, n.env.Root.Path("/proc/net/ip_vs"), "IP Virtual Server version 1.2.1 (size=4096)\n"+
		"Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"+
		"TCP  0A600001:01BB rr\n  -> AC120002:192B      Masq    1      0          0\n"+
		"TCP  C0A83864:192B rr\n  -> C0A8380A:192B      Route   1      0          0\n"+
		"UDP  0A60000A:0035 rr\n")
	var ran []string
	n.env.LookPath = func(string) (string, error) { return "/usr/sbin/ipvsadm", nil }
	n.env.Run = func(name string, args ...string) ([]byte, error) {
		ran = append(ran, name+" "+strings.Join(args, " "))
		return nil, nil
	}
	d := n.data(false, false)
	n.env.LinkAddrs = func(string) ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("10.96.0.1")}, nil }
	out, err := phasestest.RunAlone(t, &phases.Runner{Command: "reset", Phases: ResetPhases()}, "network/ipvs", d)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ipvsadm -D -t 10.96.0.1:443", "ipvsadm -D -u 10.96.0.10:53"}
	if !reflect.DeepEqual(ran, want) {
		t.Errorf("ran %q, want %q (the LVS VIP 192.168.56.100:6443 must stay)\n%s", ran, want, out)
	}
}

// etcd's data dir set to a directory an admin's files share: reset removes
// etcd's member/ only, the rest stays and is reported; a second run is a
// no-op.
func TestResetRemovesOnlyEtcdsEntriesFromASharedDataDir(t *testing.T) {
	n := newUsedNodeWith(t, func(c *config.Init) { c.Cluster.Etcd.Local = &config.LocalEtcd{DataDir: "/srv/shared"} })
	nodetest.WriteFile(t, n.env.Root.Path("/srv/shared/member/snap/db"), "x")
	nodetest.WriteFile(t, n.env.Root.Path("/srv/shared/canary"), "keep")
	if err := os.RemoveAll(n.env.Root.Path("/var/lib/etcd")); err != nil { // only the custom dir here
		t.Fatal(err)
	}
	r := &phases.Runner{Command: "reset", Phases: ResetPhases()}
	d := n.data(false, false)
	if _, err := phasestest.RunAlone(t, r, "remove-files", d); err != nil {
		t.Fatal(err)
	}
	if n.exists("/srv/shared/member") || !n.exists("/srv/shared/canary") {
		t.Errorf("member removed: %v, canary kept: %v", !n.exists("/srv/shared/member"), n.exists("/srv/shared/canary"))
	}
	if left := leftWhat(d); !strings.Contains(left, "/srv/shared/canary") {
		t.Errorf("the canary is not reported: %s", left)
	}
	again := n.data(false, false)
	if _, err := phasestest.RunAlone(t, r, "remove-files", again); err != nil {
		t.Fatal(err)
	}
	if again.Report().Changed() {
		t.Errorf("second run removed %v", again.Report().Snapshot().Removed)
	}
}
