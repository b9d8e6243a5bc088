package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/etcd/etcdtest"
	"github.com/kubestrap/kubestrap/staticpods"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testNode(name string, ready bool) *corev1.Node {
	st := corev1.ConditionTrue
	if !ready {
		st = corev1.ConditionFalse
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.35.4"},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, Reason: "KubeletNotReady", Message: "PLEG is not healthy"}}}}
}

func member(id uint64, name string, healthy bool) etcd.Member {
	return etcd.Member{ID: id, Name: name, PeerURLs: []string{"https://" + name + ":2380"},
		ClientURLs: []string{"https://" + name + ":2379"}, Healthy: healthy}
}

func expiry(name, kind string, left time.Duration) certs.Expiry {
	return certs.Expiry{Name: name, File: "/etc/kubernetes/pki/" + name + ".crt", Kind: kind, NotAfter: now.Add(left),
		Residual: certs.HumanDuration(left), Expired: left <= 0}
}

// healthy is a control-plane node of a healthy three-member cluster.
func healthy() (Sources, *etcdtest.Fake, *fake.Clientset) {
	f := etcdtest.New(member(1, "cp1", true), member(2, "cp2", true), member(3, "cp3", true))
	f.LeaderID = 2
	c := fake.NewClientset(testNode("cp1", true), testNode("cp2", true), testNode("w1", true))
	ok := func(context.Context) error { return nil }
	return Sources{Role: ControlPlane, NodeName: "cp1", Now: now, Kubestrap: "v0.1.0",
		UnitState:  func(context.Context, string) (string, error) { return "active", nil },
		StaticPods: []staticpods.Probe{{Name: "etcd", Check: ok}, {Name: "kube-apiserver", Check: ok}},
		Certs: func() []certs.Expiry {
			return []certs.Expiry{expiry("apiserver", "certificate", 364*24*time.Hour), expiry("ca", "ca", 3600*24*time.Hour),
				{Name: "super-admin.conf", Missing: true}}
		},
		Etcd: func(ctx context.Context) ([]etcd.Member, uint64, error) {
			ms, err := etcd.Members(ctx, f, f.Health)
			if err != nil {
				return nil, 0, err
			}
			leader, err := etcd.Leader(ctx, f, ms)
			return ms, leader, err
		},
		Client: func() (kubernetes.Interface, error) { return c, nil }, Admin: true}, f, c
}

func TestHealthyClusterHasNoProblems(t *testing.T) {
	s, _, _ := healthy()
	r := Gather(context.Background(), s)
	if !r.Healthy || len(r.Problems) != 0 {
		t.Fatalf("problems: %+v", r.Problems)
	}
	if r.Etcd.Leader != "cp2" || len(r.Etcd.Members) != 3 || len(r.Nodes) != 3 || r.Versions.Kubelet != "v1.35.4" {
		t.Errorf("report: %+v", r)
	}
	if len(r.Certificates) != 2 || r.Certificates[0].Name != "apiserver" {
		t.Errorf("certificates (soonest first, missing left out): %+v", r.Certificates)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil || !strings.Contains(out.String(), "healthy: nothing needs attention") {
		t.Errorf("text (%v):\n%s", err, out.String())
	}
}

func TestProblemsEachWithTheirFix(t *testing.T) {
	s, f, c := healthy()
	f.SetHealthy(3, false)
	if _, err := c.CoreV1().Nodes().Update(context.Background(), testNode("w1", false), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	certsOf := s.Certs
	s.Certs = func() []certs.Expiry {
		return append(certsOf(), expiry("apiserver-kubelet-client", "certificate", 10*24*time.Hour))
	}
	r := Gather(context.Background(), s)
	if r.Healthy || len(r.Problems) != 3 {
		t.Fatalf("problems: %+v", r.Problems)
	}
	want := []struct{ what, fix string }{
		{"etcd member cp3 (https://cp3:2380) is not healthy", "etcdctl member remove 3"},
		{"node w1 is NotReady (KubeletNotReady: PLEG is not healthy)", "journalctl -u kubelet"},
		{"certificate apiserver-kubelet-client (/etc/kubernetes/pki/apiserver-kubelet-client.crt) expires in 10d, on 2026-03-11",
			"kubestrap init phase certs"},
	}
	for _, w := range want {
		found := false
		for _, p := range r.Problems {
			found = found || strings.Contains(p.What, w.what) && strings.Contains(p.Fix, w.fix)
		}
		if !found {
			t.Errorf("no problem %q with fix %q in %+v", w.what, w.fix, r.Problems)
		}
	}
	if r.Certificates[0].Name != "apiserver-kubelet-client" {
		t.Errorf("soonest certificate first: %s", r.Certificates[0].Name)
	}
	b, _ := json.Marshal(r)
	for _, key := range []string{`"healthy":false`, `"problems":[{"what":`, `"leader":"cp2"`, `"ready":false`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

func TestDownSourcesAreProblems(t *testing.T) {
	s, _, _ := healthy()
	s.UnitState = func(_ context.Context, u string) (string, error) {
		if u == "kubelet.service" {
			return "failed", nil
		}
		return "active", nil
	}
	s.StaticPods[1].Check = func(context.Context) error { return errors.New("connection refused") }
	s.Etcd = func(context.Context) ([]etcd.Member, uint64, error) {
		return nil, 0, errors.New("context deadline exceeded")
	}
	s.Client = func() (kubernetes.Interface, error) { return nil, errors.New("no kubeconfig") }
	r := Gather(context.Background(), s)
	var whats []string
	for _, p := range r.Problems {
		whats = append(whats, p.What)
	}
	got := strings.Join(whats, "\n")
	for _, w := range []string{"kubelet.service is failed", "kube-apiserver is not healthy: connection refused",
		"etcd does not answer", "no API credentials"} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

func TestWorkerReadsOnlyItsOwnNode(t *testing.T) {
	s, _, _ := healthy()
	s.Role, s.NodeName, s.StaticPods, s.Etcd, s.Admin = Worker, "w1", nil, nil, false
	r := Gather(context.Background(), s)
	if !r.Healthy || len(r.Nodes) != 1 || r.Nodes[0].Name != "w1" || r.Etcd != nil || r.Tokens != nil {
		t.Errorf("worker report: %+v", r)
	}
}

func TestNotInAClusterIsHealthy(t *testing.T) {
	s := Sources{Role: None, UnitState: func(context.Context, string) (string, error) { return "inactive", nil }}
	if r := Gather(context.Background(), s); !r.Healthy || len(r.Problems) != 0 {
		t.Errorf("bare host: %+v", r)
	}
}
