package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/staticpods"
)

// Peer is another control plane's etcd as a restore looks for it.
type Peer struct {
	Name, ClientURL string
}

func (p Peer) String() string { return p.Name + " (" + p.ClientURL + ")" }

// controlPlaneLabel marks the Nodes that run a control plane (and etcd).
const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

// candidatePeers gathers every place that may name another control plane:
// the manifest's --initial-cluster (complete on nodes that joined), the
// members etcd listed (when it answered), and the control-plane Nodes
// (the only source on the init node, whose --initial-cluster names just
// itself). This node is left out by name and by address.
func candidatePeers(le *staticpods.LocalEtcd, members []etcd.Member, nodes []corev1.Node) []Peer {
	self := hostOf(le.PeerURL)
	var out []Peer
	add := func(name, clientURL string) {
		h := hostOf(clientURL)
		if h == "" || h == self || name == le.Name || slices.ContainsFunc(out, func(p Peer) bool { return hostOf(p.ClientURL) == h }) {
			return
		}
		out = append(out, Peer{Name: name, ClientURL: clientURL})
	}
	for _, e := range strings.Split(le.InitialCluster, ",") {
		if name, peer, ok := strings.Cut(e, "="); ok {
			add(name, clientURLFor(hostOf(peer)))
		}
	}
	for _, m := range members {
		for _, u := range m.ClientURLs {
			add(m.Name, u)
		}
	}
	for _, n := range nodes {
		if _, cp := n.Labels[controlPlaneLabel]; !cp {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				add(n.Name, clientURLFor(a.Address))
			}
		}
	}
	return out
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Hostname()
}

func clientURLFor(host string) string {
	if host == "" {
		return ""
	}
	return config.NewEndpoint(host, layout.EtcdClientPort).URL()
}

// livePeers probes candidates at once, each with a short timeout, and
// returns those that answered.
func livePeers(ctx context.Context, peers []Peer, answers func(ctx context.Context, clientURL string) error) []string {
	var mu sync.Mutex
	var live []string
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if answers(pctx, p.ClientURL) == nil {
				mu.Lock()
				live = append(live, p.String())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(live)
	return live
}

// hostLivePeers wires livePeers to the host: the Nodes through admin.conf
// (through the control-plane endpoint, which other control planes serve),
// the members through any etcd that answers, probes with the node's etcd
// client certificate.
func hostLivePeers(root node.Root, le *staticpods.LocalEtcd) func(ctx context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		mctx, cancel := context.WithTimeout(ctx, 4*time.Second)
		members, _ := members(le, root)(mctx)
		cancel()
		nodes, nodesErr := controlPlaneNodes(ctx, root.Path(layout.AdminConfPath))
		answers := func(ctx context.Context, u string) error {
			c, err := etcd.Client([]string{u}, le.HostTLS(root))
			if err != nil {
				return err
			}
			defer func() { _ = c.Close() }()
			_, err = c.Status(ctx, u)
			return err
		}
		live := livePeers(ctx, candidatePeers(le, members, nodes), answers)
		if nodesErr != nil {
			nodesErr = fmt.Errorf("list the control-plane Nodes: %w", nodesErr)
		}
		return live, nodesErr
	}
}

func controlPlaneNodes(ctx context.Context, kubeconfig string) ([]corev1.Node, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.Timeout = 5 * time.Second
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	list, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: controlPlaneLabel})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// hostClusterID is the cluster ID of the live local member, else the one
// in its data dir's write-ahead log.
func hostClusterID(root node.Root, le *staticpods.LocalEtcd) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if c, err := etcd.Client(le.Endpoints[:1], le.HostTLS(root)); err == nil {
			defer func() { _ = c.Close() }()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if resp, err := c.MemberList(cctx); err == nil && resp.Header != nil {
				return strconv.FormatUint(resp.Header.ClusterId, 16), nil
			}
		}
		return DataDirClusterID(root.Path(le.DataDir))
	}
}

// LineageFile lists, one per line, the etcd cluster IDs this node's data
// had before restores: snapshots of those are this cluster's history.
const LineageFile = layout.StateDir + "/etcd-cluster-ids"

func readLineage(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var ids []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if id := strings.TrimSpace(s.Text()); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

func appendLineage(path string, ids ...string) error {
	have := readLineage(path)
	for _, id := range ids {
		if id != "" && !slices.Contains(have, id) {
			have = append(have, id)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return node.WriteFileAtomic(path, []byte(strings.Join(have, "\n")+"\n"), fileMode)
}
