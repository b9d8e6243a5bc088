package upgradeflow

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/snapshot"
	"github.com/kubestrap/kubestrap/staticpods"
)

// Plan is `kubestrap upgrade plan`: where the cluster is, what the
// installed releases offer, and what apply would do. Its JSON form is
// stable (-o json).
type Plan struct {
	ClusterVersion string `json:"clusterVersion"`
	// Target is the newest installed version apply may take, "" when none.
	Target    string         `json:"target,omitempty"`
	Available []string       `json:"available"`
	Nodes     []NodeVersions `json:"nodes"`
	Etcd      *EtcdState     `json:"etcd,omitempty"`
	Runtime   string         `json:"runtime"`
	Expiring  []certs.Expiry `json:"certificatesExpiringSoon"`
	Actions   []string       `json:"actions"`
	Problems  []string       `json:"problems"`
}

// NodeVersions is one node's versions.
type NodeVersions struct {
	Name    string `json:"name"`
	Kubelet string `json:"kubelet"`
	// APIServer, ControllerManager, Scheduler, Etcd are the image tags of
	// a control plane's static pods (from their mirror pods).
	APIServer         string `json:"kubeAPIServer,omitempty"`
	ControllerManager string `json:"kubeControllerManager,omitempty"`
	Scheduler         string `json:"kubeScheduler,omitempty"`
	Etcd              string `json:"etcd,omitempty"`
}

// EtcdState is the etcd cluster's health and this node's latest snapshot.
type EtcdState struct {
	Members        int    `json:"members"`
	Healthy        int    `json:"healthy"`
	LatestSnapshot string `json:"latestSnapshot,omitempty"`
	SnapshotAge    string `json:"snapshotAge,omitempty"`
}

// MakePlan reads the cluster and this node; target "" picks the newest
// installed version the skew rules allow.
func MakePlan(ctx context.Context, d *Data, now time.Time) (*Plan, error) {
	p := &Plan{ClusterVersion: d.cluster.KubernetesVersion, Available: kubelet.AvailableVersions(),
		Actions: []string{}, Problems: []string{}, Expiring: []certs.Expiry{}}
	if err := p.readNodes(ctx, d); err != nil {
		return nil, err
	}
	p.Etcd = etcdState(ctx, d, now)
	if name, v, err := d.Env().CRIVersion(ctx, d.cri); err == nil {
		p.Runtime = name + " " + v
	}
	p.pickTarget(d)
	p.readCerts(d, now)
	p.plan(d)
	return p, nil
}

func (p *Plan) readNodes(ctx context.Context, d *Data) error {
	nodes, err := d.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list the nodes: %w", err)
	}
	pods, err := d.client.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
	if err != nil {
		return fmt.Errorf("list the control-plane pods: %w", err)
	}
	for _, n := range nodes.Items {
		nv := NodeVersions{Name: n.Name, Kubelet: n.Status.NodeInfo.KubeletVersion}
		for _, pod := range pods.Items {
			if pod.Spec.NodeName != n.Name || len(pod.Spec.Containers) == 0 {
				continue
			}
			t := tag(pod.Spec.Containers[0].Image)
			switch pod.Labels["component"] {
			case staticpods.KubeAPIServer:
				nv.APIServer = t
			case staticpods.ControllerManager:
				nv.ControllerManager = t
			case staticpods.Scheduler:
				nv.Scheduler = t
			case staticpods.Etcd:
				nv.Etcd = t
			}
		}
		p.Nodes = append(p.Nodes, nv)
	}
	slices.SortFunc(p.Nodes, func(a, b NodeVersions) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

func etcdState(ctx context.Context, d *Data, now time.Time) *EtcdState {
	le, err := staticpods.LocalMember(d.Env().Root)
	if err != nil {
		return nil
	}
	s := &EtcdState{}
	files := le.HostTLS(d.Env().Root)
	if cli, err := etcd.Client(le.Endpoints, files); err == nil {
		if members, err := etcd.Members(ctx, cli, etcd.HealthOf(files)); err == nil {
			s.Members = len(members)
			for _, m := range members {
				if m.Healthy {
					s.Healthy++
				}
			}
		}
		_ = cli.Close()
	}
	if list, err := snapshot.List(d.HostPath(snapshot.DefaultDir)); err == nil && len(list) > 0 {
		last := list[len(list)-1]
		s.LatestSnapshot = last.Path
		if last.Info != nil {
			s.SnapshotAge = now.Sub(last.Info.Time).Round(time.Minute).String()
		}
	}
	return s
}

// pickTarget: the newest installed version the rules allow (or the one
// asked for).
func (p *Plan) pickTarget(d *Data) {
	if d.opts.Version != "" {
		p.Target = d.opts.Version
		return
	}
	for _, v := range p.Available {
		if config.CheckUpgrade(p.ClusterVersion, v) == nil && config.Newer(v, p.ClusterVersion) {
			p.Target = v
		}
	}
}

func (p *Plan) readCerts(d *Data, now time.Time) {
	c := &config.Init{Cluster: *d.cluster}
	c.NodeRegistration.Name = d.nodeName
	for _, e := range certs.CheckExpiration(d.HostPath(d.cluster.CertificatesDir), d.KubernetesDir(), certs.Tree(c),
		certs.Kubeconfigs(c), now) {
		if e.ResidualS < 90*24*3600 && !e.NotAfter.IsZero() {
			p.Expiring = append(p.Expiring, e)
		}
	}
}

// plan lists what apply would do, and what stops it.
func (p *Plan) plan(d *Data) {
	if p.Etcd != nil && p.Etcd.Healthy < p.Etcd.Members {
		p.Problems = append(p.Problems, fmt.Sprintf("etcd: %d of %d members healthy", p.Etcd.Healthy, p.Etcd.Members))
	}
	for _, n := range p.Nodes {
		if config.NewerMinor(n.Kubelet, p.ClusterVersion) {
			p.Problems = append(p.Problems, fmt.Sprintf("node %s: kubelet %s is newer than the cluster", n.Name, n.Kubelet))
		}
	}
	if p.Target == "" {
		p.Actions = append(p.Actions, fmt.Sprintf("nothing to upgrade to: the installed releases offer %s "+
			"(install the next minor's release, e.g. make dist KUBERNETES_VERSION=v1.%d.x)", strings.Join(p.Available, ", "),
			minorOf(p.ClusterVersion)+1))
		return
	}
	if err := config.CheckUpgrade(p.ClusterVersion, p.Target); err != nil {
		p.Problems = append(p.Problems, err.Error())
		return
	}
	d.target = p.Target
	if err := checkRuntime(context.Background(), d); err != nil {
		p.Problems = append(p.Problems, err.Error())
	}
	p.Actions = append(p.Actions,
		fmt.Sprintf("on this node: kubestrap upgrade apply %s (snapshot, certificates renewed, etcd, kube-apiserver, "+
			"kube-controller-manager, kube-scheduler one at a time, configuration, addons, kubelet)", p.Target))
	for _, n := range p.Nodes {
		if n.Name == d.nodeName {
			continue
		}
		what := "the kubelet"
		if n.APIServer != "" {
			what = "the static pods one at a time, then the kubelet"
		}
		p.Actions = append(p.Actions, fmt.Sprintf("on %s: kubestrap upgrade node (%s; drain a worker first)", n.Name, what))
	}
}

func minorOf(v string) int {
	pv, err := config.ParseKubernetesVersion(v)
	if err != nil {
		return 0
	}
	return pv.Minor
}

// WriteText prints the plan as tables.
func (p *Plan) WriteText(out io.Writer) {
	fmt.Fprintf(out, "cluster version: %s\ninstalled releases: %s\n", p.ClusterVersion, strings.Join(p.Available, ", "))
	if p.Target != "" {
		fmt.Fprintf(out, "upgrade to: %s\n", p.Target)
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tKUBELET\tAPISERVER\tCONTROLLER-MANAGER\tSCHEDULER\tETCD")
	for _, n := range p.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Kubelet, dash(n.APIServer), dash(n.ControllerManager),
			dash(n.Scheduler), dash(n.Etcd))
	}
	_ = tw.Flush()
	if p.Etcd != nil {
		snap := "none"
		if p.Etcd.LatestSnapshot != "" {
			snap = p.Etcd.LatestSnapshot + " (" + p.Etcd.SnapshotAge + " old)"
		}
		fmt.Fprintf(out, "\netcd: %d of %d members healthy; latest snapshot on this node: %s\n", p.Etcd.Healthy, p.Etcd.Members, snap)
	}
	fmt.Fprintf(out, "container runtime: %s\n", dash(p.Runtime))
	for _, e := range p.Expiring {
		fmt.Fprintf(out, "certificate %s expires in %s (apply renews it)\n", e.Name, e.Residual)
	}
	fmt.Fprintln(out, "\nwhat apply would do:")
	for _, a := range p.Actions {
		fmt.Fprintln(out, "  - "+a)
	}
	for _, pr := range p.Problems {
		fmt.Fprintln(out, "PROBLEM: "+pr)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
