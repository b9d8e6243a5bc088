package phases

import (
	"fmt"
	"sort"
	"strings"
)

// kubeadm's phase names (v1.35) where kubestrap's differ, so that a
// playbook written for kubeadm (`kubeadm init phase addon coredns`,
// `--skip-phases addon/kube-proxy`) works with kubestrap unchanged. Each
// maps to the kubestrap phases that do that work; an empty list is a
// kubeadm phase whose work kubestrap does elsewhere or not at all: skipping
// it skips nothing, running it alone says where the work is.
var kubeadmAliases = map[string]map[string][]string{
	"init": {
		"addon":                 {"addons"},
		"addon/all":             {"addons"},
		"addon/coredns":         {"addons/coredns"},
		"addon/kube-proxy":      {"addons/kube-proxy"},
		"certs/all":             {"certs"},
		"kubeconfig/all":        {"kubeconfig"},
		"control-plane/all":     {"control-plane"},
		"etcd/all":              {"etcd"},
		"upload-config/all":     {"upload-config"},
		"upload-config/kubeadm": {"upload-config"},
		"upload-config/kubelet": {"upload-config"},
		"kubelet-finalize/all":  {"kubelet-finalize"},
		"kubelet-finalize/enable-client-cert-rotation": {"kubelet-finalize"},
	},
	"join": {
		"control-plane-prepare/all": {"control-plane-prepare"},
		"kubelet-wait-bootstrap":    {"wait-registered"},
		"check-etcd":                nil,
		"etcd-join":                 {"control-plane-join/etcd"},
		"control-plane-join/all":    {"control-plane-join"},
		"wait-control-plane":        {"control-plane-join/wait-control-plane"},
	},
	"reset": {
		"preflight":    nil,
		"cleanup-node": {"stop-kubelet", "timers", "remove-pods", "unmount", "remove-files", "network", "preflight-fixes"},
	},
}

// noCounterpart says where the work of a kubeadm phase without a kubestrap
// phase of its own is done.
var noCounterpart = map[string]string{
	"join/check-etcd": "control-plane-join/etcd checks etcd's health before it adds this node's member",
	"reset/preflight": "reset asks nothing and checks its own inputs; a member removal that would lose quorum " +
		"is refused in remove-etcd-member",
}

// Aliases are kubeadm's phase names for command ("init", "join", "reset").
func Aliases(command string) map[string][]string { return kubeadmAliases[command] }

// AliasNames lists them sorted, for help and errors.
func AliasNames(command string) []string {
	var out []string
	for k := range kubeadmAliases[command] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// resolve maps a kubeadm phase name to kubestrap's; a kubestrap name is
// itself. ok is false for a name neither tool has.
func (r *Runner) resolve(name string, known map[string]bool) ([]string, bool) {
	if known[name] {
		return []string{name}, true
	}
	targets, ok := kubeadmAliases[r.Command][name]
	return targets, ok
}

// unalias replaces kubeadm's names in r.Skip by kubestrap's, and reports
// the names neither tool has.
func (r *Runner) unalias() []string {
	known := map[string]bool{}
	for _, p := range r.Paths() {
		known[p] = true
	}
	var skip, bad []string
	for _, s := range r.Skip {
		targets, ok := r.resolve(s, known)
		if !ok {
			bad = append(bad, s)
		}
		skip = append(skip, targets...)
	}
	r.Skip = skip
	return bad
}

// aliasTargets is what `phase NAME` runs for a kubeadm name, or an error
// saying where that work is.
func (r *Runner) aliasTargets(name string) ([]string, error) {
	targets, ok := kubeadmAliases[r.Command][name]
	if !ok {
		return nil, fmt.Errorf("unknown phase %q; known phases: %s (and kubeadm's names: %s)", name,
			strings.Join(r.Paths(), ", "), strings.Join(AliasNames(r.Command), ", "))
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("kubeadm's phase %s has no kubestrap counterpart: %s", name, noCounterpart[r.Command+"/"+name])
	}
	return targets, nil
}
