// Package cleanuptest has fakes of the host parts package cleanup touches:
// a CRI runtime, network links, iptables and mounts. Each keeps state, so a
// second reset over the same fakes finds nothing left to do.
package cleanuptest

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/node"
)

// Runtime is a fake CRI runtime; removing a sandbox drops it from Pods.
type Runtime struct {
	mu         sync.Mutex
	Pods       []*runtimeapi.PodSandbox
	Containers []*runtimeapi.Container
	// Fail makes RemovePodSandbox of these sandbox ids fail.
	Fail    map[string]error
	ListErr error
	Calls   []string
}

var _ node.Runtime = (*Runtime)(nil)

func (f *Runtime) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, s)
}

// ListPodSandbox implements node.Runtime.
func (f *Runtime) ListPodSandbox(context.Context, *runtimeapi.ListPodSandboxRequest, ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &runtimeapi.ListPodSandboxResponse{Items: append([]*runtimeapi.PodSandbox(nil), f.Pods...)}, f.ListErr
}

// StopPodSandbox implements node.Runtime.
func (f *Runtime) StopPodSandbox(_ context.Context, in *runtimeapi.StopPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.StopPodSandboxResponse, error) {
	f.record("stop " + in.PodSandboxId)
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

// RemovePodSandbox implements node.Runtime.
func (f *Runtime) RemovePodSandbox(_ context.Context, in *runtimeapi.RemovePodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.RemovePodSandboxResponse, error) {
	f.record("remove " + in.PodSandboxId)
	if err := f.Fail[in.PodSandboxId]; err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range f.Pods {
		if p.Id == in.PodSandboxId {
			f.Pods = append(f.Pods[:i:i], f.Pods[i+1:]...)
			break
		}
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

// ListContainers implements node.Runtime.
func (f *Runtime) ListContainers(context.Context, *runtimeapi.ListContainersRequest, ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &runtimeapi.ListContainersResponse{Containers: append([]*runtimeapi.Container(nil), f.Containers...)}, nil
}

// RemoveContainer implements node.Runtime.
func (f *Runtime) RemoveContainer(_ context.Context, in *runtimeapi.RemoveContainerRequest, _ ...grpc.CallOption) (*runtimeapi.RemoveContainerResponse, error) {
	f.record("remove container " + in.ContainerId)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.Containers {
		if c.Id == in.ContainerId {
			f.Containers = append(f.Containers[:i:i], f.Containers[i+1:]...)
			break
		}
	}
	return &runtimeapi.RemoveContainerResponse{}, nil
}

// Links is a fake set of network links by name.
type Links map[string]bool

var _ node.Links = Links{}

// Exists implements node.Links.
func (f Links) Exists(n string) (bool, error) { return f[n], nil }

// Delete implements node.Links.
func (f Links) Delete(n string) error {
	if !f[n] {
		return errors.New("link not found")
	}
	delete(f, n)
	return nil
}

// IPTables is a fake iptables: Rules maps table -> chain -> "-A ..." lines.
// Like the real one it refuses to delete a chain that has rules or is
// jumped to.
type IPTables struct {
	Rules map[string]map[string][]string
	Calls []string
	// AfterList, when set, runs after each List: a test edits Rules there
	// as firewalld or kube-proxy would between a reset's List and Delete.
	AfterList func(table, chain string)
}

// NotExistError is what the fake returns for a rule that is not there,
// as *iptables.Error does with IsNotExist.
type NotExistError struct{ Rule string }

func (e NotExistError) Error() string {
	return "iptables: Bad rule (does a matching rule exist in that chain?): " + e.Rule
}

// IsNotExist is true, like that of *iptables.Error for a missing rule.
func (NotExistError) IsNotExist() bool { return true }

var _ node.IPTables = (*IPTables)(nil)

// ListChains implements node.IPTables, sorted.
func (f *IPTables) ListChains(table string) ([]string, error) {
	var out []string
	for c := range f.Rules[table] {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// List implements node.IPTables.
func (f *IPTables) List(table, chain string) ([]string, error) {
	out := append([]string{"-P " + chain + " ACCEPT"}, f.Rules[table][chain]...)
	if f.AfterList != nil {
		f.AfterList(table, chain)
	}
	return out, nil
}

// Delete implements node.IPTables: it deletes the first rule whose
// line, written back as iptables -S writes it, is "-A chain rulespec".
func (f *IPTables) Delete(table, chain string, rulespec ...string) error {
	line := "-A " + chain
	for _, a := range rulespec {
		line += " " + saveQuote(a)
	}
	r := f.Rules[table][chain]
	for i := range r {
		if r[i] == line {
			f.Calls = append(f.Calls, "delete "+table+"/"+chain+" "+line)
			f.Rules[table][chain] = append(r[:i:i], r[i+1:]...)
			return nil
		}
	}
	return NotExistError{Rule: table + "/" + line}
}

// saveQuote quotes an argument with spaces or quotes (a comment) as
// iptables -S does: in double quotes, with " \ and ' escaped.
func saveQuote(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\"\\'") {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range a {
		if strings.ContainsRune("\"\\'", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}

// ClearChain implements node.IPTables.
func (f *IPTables) ClearChain(table, chain string) error {
	f.Calls = append(f.Calls, "flush "+table+"/"+chain)
	f.Rules[table][chain] = nil
	return nil
}

// DeleteChain implements node.IPTables.
func (f *IPTables) DeleteChain(table, chain string) error {
	if len(f.Rules[table][chain]) > 0 {
		return errors.New("directory not empty")
	}
	for _, rules := range f.Rules[table] {
		for _, r := range rules {
			if strings.Contains(r, "-j "+chain) || strings.Contains(r, "-g "+chain) {
				return errors.New("too many links: " + r)
			}
		}
	}
	f.Calls = append(f.Calls, "delete chain "+table+"/"+chain)
	delete(f.Rules[table], chain)
	return nil
}

// Unmounter is an unmount that drops the target's line from the mounts
// file under root, as the kernel would; a target not mounted is EINVAL.
func Unmounter(root node.Root) func(target string, flags int) error {
	return func(target string, _ int) error {
		p := root.Path(cleanup.MountsFile)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		host := "/" + strings.TrimLeft(strings.TrimPrefix(target, string(root)), "/")
		lines := strings.Split(string(b), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if f := strings.Fields(lines[i]); len(f) > 1 && f[1] == host {
				lines = append(lines[:i], lines[i+1:]...)
				return os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644)
			}
		}
		return syscall.EINVAL
	}
}

// Reach points h's mounts, runtime, links, iptables and nftables at the
// fakes (its files stay in h.Root); a nil rt means no runtime answers.
func Reach(h *node.Host, rt *Runtime, links Links, ipt *IPTables) {
	h.Unmount = Unmounter(h.Root)
	h.CRI = func(string) (node.Runtime, io.Closer, error) {
		if rt == nil {
			return nil, nil, errors.New("connection refused")
		}
		return rt, io.NopCloser(nil), nil
	}
	h.Links = links
	h.IPTables = func(ipv6 bool) (node.IPTables, error) {
		if ipv6 {
			return nil, errors.New("ip6tables: not found")
		}
		return ipt, nil
	}
	// No kube-ipvs0 addresses; a test that needs some sets its own.
	h.LinkAddrs = func(string) ([]netip.Addr, error) { return nil, nil }
	h.NFTables = &NFT{}
}

// NFT is an nftables ruleset of iptables-nft tables: those in Used hold
// something (rules, a DROP policy); Deleted records what went.
type NFT struct {
	Present []node.NFTable
	Used    map[node.NFTable]bool
	Deleted []node.NFTable
}

// Tables implements node.NFTables.
func (n *NFT) Tables() ([]node.NFTable, error) {
	return append([]node.NFTable(nil), n.Present...), nil
}

// Unused implements node.NFTables.
func (n *NFT) Unused(t node.NFTable) (bool, error) { return !n.Used[t], nil }

// Delete implements node.NFTables.
func (n *NFT) Delete(t node.NFTable) error {
	n.Deleted = append(n.Deleted, t)
	n.Present = slices.DeleteFunc(n.Present, func(p node.NFTable) bool { return p == t })
	return nil
}
