// Package status gathers what `kubestrap status` reports about a node and
// its cluster — role, services, static pods, certificates, etcd, nodes,
// tokens, versions — and turns what is wrong into problems, each with its
// fix. Every probe is injected (Sources), so the aggregation is tested
// without a host; host.go wires the real ones.
package status

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/components/tokens"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/staticpods"
)

// Role is what the node is in its cluster, as package node decides it.
type Role = node.Role

// The roles a node may have.
const (
	ControlPlane = node.ControlPlane
	Worker       = node.Worker
	// None is a host that is not part of a cluster.
	None = node.None
)

// CertWarning is how long before expiry a certificate needs attention.
const CertWarning = 30 * 24 * time.Hour

// callTimeout bounds each API call and probe: status must answer quickly
// also when half the cluster is down.
const callTimeout = 5 * time.Second

// Sources are where Gather looks. Each is a side effect that tests replace.
type Sources struct {
	Role     Role
	NodeName string
	Now      time.Time
	// Kubestrap is this binary's version.
	Kubestrap string
	// UnitState is systemd's ActiveState of a unit.
	UnitState func(ctx context.Context, unit string) (string, error)
	// StaticPods are the control plane's probes; nil on a worker.
	StaticPods []staticpods.Probe
	// Certs lists certificate expiry rows; missing files are left out.
	Certs func() []certs.Expiry
	// Etcd lists the members with their health and the leader's id; nil
	// on a node without an etcd member.
	Etcd func(ctx context.Context) ([]etcd.Member, uint64, error)
	// Client is the API client: admin.conf's when Admin, else the kubelet's,
	// which may only read its own Node.
	Client func() (kubernetes.Interface, error)
	Admin  bool
}

// Report is `kubestrap status`; its JSON form is stable.
type Report struct {
	Node         string         `json:"node"`
	Role         Role           `json:"role"`
	Healthy      bool           `json:"healthy"`
	Versions     Versions       `json:"versions"`
	Services     []Service      `json:"services"`
	StaticPods   []Pod          `json:"staticPods,omitempty"`
	Certificates []certs.Expiry `json:"certificates,omitempty"`
	Etcd         *Etcd          `json:"etcd,omitempty"`
	Nodes        []Node         `json:"nodes,omitempty"`
	Tokens       []tokens.Token `json:"tokens,omitempty"`
	Problems     []Problem      `json:"problems"`
}

// Versions are kubestrap's and the cluster's.
type Versions struct {
	Kubestrap string `json:"kubestrap"`
	// Kubernetes is the API server's version; Kubelet this node's kubelet's.
	Kubernetes string `json:"kubernetes,omitempty"`
	Kubelet    string `json:"kubelet,omitempty"`
}

// Service is a systemd unit's state.
type Service struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Pod is one static pod's health.
type Pod struct {
	Name    string `json:"name"`
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
}

// Etcd is the etcd cluster as this node's member sees it.
type Etcd struct {
	Leader  string       `json:"leader,omitempty"`
	Members []EtcdMember `json:"members"`
	Error   string       `json:"error,omitempty"`
}

// EtcdMember is one member; ID is hex, as etcdctl prints it.
type EtcdMember struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	Learner    bool     `json:"learner,omitempty"`
	Healthy    bool     `json:"healthy"`
	Leader     bool     `json:"leader,omitempty"`
}

// Node is a Node object's readiness.
type Node struct {
	Name    string `json:"name"`
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason,omitempty"`
	Kubelet string `json:"kubeletVersion,omitempty"`
}

// Problem is something that needs attention, with how to fix it.
type Problem struct {
	What string `json:"what"`
	Fix  string `json:"fix"`
}

func (r *Report) problem(what, fix string) {
	r.Problems = append(r.Problems, Problem{What: what, Fix: fix})
}

// Gather asks every source and lists the problems found. It never fails:
// a source that does not answer is itself a problem.
func Gather(ctx context.Context, s Sources) *Report {
	r := &Report{Node: s.NodeName, Role: s.Role, Versions: Versions{Kubestrap: s.Kubestrap}, Problems: []Problem{}}
	services(ctx, r, s)
	if s.Role == None {
		r.Healthy = true
		return r
	}
	staticPods(ctx, r, s.StaticPods)
	certificates(r, s)
	if s.Etcd != nil {
		etcdMembers(ctx, r, s.Etcd)
	}
	cluster(ctx, r, s)
	r.Healthy = len(r.Problems) == 0
	return r
}

func services(ctx context.Context, r *Report, s Sources) {
	units := []string{"containerd.service", "kubelet.service"}
	for _, u := range units {
		state, err := s.UnitState(ctx, u)
		if err != nil {
			state = "unknown (" + err.Error() + ")"
		}
		r.Services = append(r.Services, Service{Name: u, State: state})
		if state != "active" && s.Role != None {
			name := strings.TrimSuffix(u, ".service")
			r.problem(fmt.Sprintf("%s is %s", u, state),
				fmt.Sprintf("`systemctl restart %s`; `journalctl -u %s` shows why it stopped", name, name))
		}
	}
}

func staticPods(ctx context.Context, r *Report, probes []staticpods.Probe) {
	r.StaticPods = make([]Pod, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			r.StaticPods[i] = Pod{Name: p.Name, Healthy: true}
			if err := p.Check(cctx); err != nil {
				r.StaticPods[i] = Pod{Name: p.Name, Error: err.Error()}
			}
		}()
	}
	wg.Wait()
	for _, p := range r.StaticPods {
		if !p.Healthy {
			r.problem(fmt.Sprintf("%s is not healthy: %s", p.Name, p.Error),
				fmt.Sprintf("`crictl ps -a --name %s` and `crictl logs CONTAINER` on this node show why; "+
					"its manifest is /etc/kubernetes/manifests/%s.yaml", p.Name, p.Name))
		}
	}
}

// certificates lists the certificates soonest expiry first; one that
// expires within CertWarning, or does not read, is a problem.
func certificates(r *Report, s Sources) {
	if s.Certs == nil {
		return
	}
	for _, e := range s.Certs() {
		if !e.Missing {
			r.Certificates = append(r.Certificates, e)
		}
	}
	sort.SliceStable(r.Certificates, func(i, j int) bool {
		a, b := r.Certificates[i], r.Certificates[j]
		if (a.Error == "") != (b.Error == "") {
			return a.Error != ""
		}
		return a.NotAfter.Before(b.NotAfter)
	})
	for _, e := range r.Certificates {
		switch {
		case e.Error != "":
			r.problem(fmt.Sprintf("certificate %s (%s) does not read: %s", e.Name, e.File, e.Error),
				"restore it from a backup of /etc/kubernetes, or reset this node and join it again")
		case e.NotAfter.Sub(s.Now) < CertWarning:
			when := "expires in " + certs.HumanDuration(e.NotAfter.Sub(s.Now))
			if e.Expired {
				when = "has expired"
			}
			r.problem(fmt.Sprintf("certificate %s (%s) %s, on %s", e.Name, e.File, when, e.NotAfter.Format("2006-01-02")),
				certFix(e))
		}
	}
}

func certFix(e certs.Expiry) string {
	switch {
	case e.Kind == "ca":
		return "a CA cannot be renewed in place: every certificate it signed must be issued again; plan that rotation " +
			"before it expires"
	case strings.HasSuffix(e.File, "kubelet.conf"):
		return "the kubelet renews its own client certificate: check `journalctl -u kubelet` for certificate errors " +
			"and that its CSRs are approved (`kubectl get csr`)"
	case e.Kind == "kubeconfig":
		return "renew it before then: move " + e.File + " aside and run `kubestrap init phase kubeconfig` on the node " +
			"init ran on, which issues it again from the CA; then restart the components that use it"
	}
	return "renew it before then: move " + e.File + " and its key aside and run `kubestrap init phase certs` on the node " +
		"init ran on, which issues it again from the CA; then restart the components that use it"
}

func etcdMembers(ctx context.Context, r *Report, list func(context.Context) ([]etcd.Member, uint64, error)) {
	members, leader, err := list(ctx)
	if err != nil && len(members) == 0 {
		r.Etcd = &Etcd{Members: []EtcdMember{}, Error: err.Error()}
		r.problem("etcd does not answer: "+err.Error(),
			"on each control-plane node `crictl ps -a --name etcd` and `crictl logs CONTAINER` show why; "+
				"a lost cluster comes back from a snapshot: `kubestrap etcd snapshot restore FILE`")
		return
	}
	r.Etcd = EtcdView(members, leader)
	for _, m := range r.Etcd.Members {
		if !m.Healthy && !m.Learner {
			r.problem(fmt.Sprintf("etcd member %s (%s) is not healthy", or(m.Name, m.ID), strings.Join(m.PeerURLs, ",")),
				"run `kubestrap status` on its node; if that node is gone for good, remove the member "+
					"(`etcdctl member remove "+m.ID+"` on a healthy control-plane node) before the cluster loses another one")
		}
	}
	if leader == 0 {
		r.problem("etcd has no leader: the cluster lost quorum",
			"bring the stopped members back (`kubestrap status` on each control-plane node); if too many are lost, "+
				"restore a snapshot: `kubestrap etcd snapshot restore FILE --force-new-cluster`")
	}
}

// EtcdView is members and leader in the report's form, which is also
// `kubestrap etcd members -o json`.
func EtcdView(members []etcd.Member, leader uint64) *Etcd {
	v := &Etcd{Members: []EtcdMember{}}
	for _, m := range members {
		em := EtcdMember{ID: strconv.FormatUint(m.ID, 16), Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs,
			Learner: m.IsLearner, Healthy: m.Healthy, Leader: leader != 0 && m.ID == leader}
		if em.Leader {
			v.Leader = m.Name
		}
		v.Members = append(v.Members, em)
	}
	return v
}

// cluster reads the API: versions, nodes, tokens. A worker's kubelet may
// only read its own Node.
func cluster(ctx context.Context, r *Report, s Sources) {
	c, err := s.Client()
	if err != nil {
		r.problem("no API credentials: "+err.Error(), "this node's kubeconfig is missing: reset the node and join it again")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if v, err := c.Discovery().ServerVersion(); err == nil {
		r.Versions.Kubernetes = v.GitVersion
	}
	var nodes []corev1.Node
	if s.Admin {
		list, lerr := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err = lerr; err == nil {
			nodes = list.Items
		}
	} else {
		n, gerr := c.CoreV1().Nodes().Get(ctx, s.NodeName, metav1.GetOptions{})
		if err = gerr; err == nil {
			nodes = []corev1.Node{*n}
		}
	}
	if err != nil {
		r.problem("the API server does not answer: "+err.Error(), apiFix(s.Role))
		return
	}
	for _, n := range nodes {
		addNode(r, n, s.NodeName)
	}
	if s.Admin {
		if ts, err := tokens.List(ctx, c); err == nil {
			r.Tokens = ts
		}
	}
}

func apiFix(role Role) string {
	if role == ControlPlane {
		return "`crictl ps -a --name kube-apiserver` and `crictl logs CONTAINER` show why; it needs etcd healthy first"
	}
	return "run `kubestrap status` on a control-plane node, and check this node's network path to the API endpoint"
}

func addNode(r *Report, n corev1.Node, self string) {
	row := Node{Name: n.Name, Kubelet: n.Status.NodeInfo.KubeletVersion}
	row.Ready, row.Reason = kubelet.NodeReady(&n)
	if n.Name == self {
		r.Versions.Kubelet = row.Kubelet
	}
	r.Nodes = append(r.Nodes, row)
	if !row.Ready {
		r.problem(fmt.Sprintf("node %s is NotReady (%s)", n.Name, row.Reason),
			"on "+n.Name+": `kubestrap status` and `journalctl -u kubelet`; a node that is gone for good: "+
				"`kubectl delete node "+n.Name+"`")
	}
}
