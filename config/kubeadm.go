package config

import (
	"fmt"
	"sort"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
)

// kubeadm's config API that kubestrap reads, so that a kubeadm playbook's
// --config works unchanged. Its documents share kubestrap's field names;
// what kubeadm has and kubestrap does not is listed below.
const (
	KubeadmAPIVersion   = "kubeadm.k8s.io/v1beta4"
	KubeletAPIVersion   = "kubelet.config.k8s.io/v1beta1"
	KubeProxyAPIVersion = "kubeproxy.config.k8s.io/v1alpha1"
	KindKubelet         = "KubeletConfiguration"
	KindKubeProxy       = "KubeProxyConfiguration"
)

// kubeadmField is a kubeadm v1beta4 field (at the pinned Kubernetes
// version) that kubestrap's types lack. ignore says why it is dropped with
// a warning; refuse makes it an error, for settings whose silent loss would
// build a different cluster than the one asked for.
type kubeadmField struct {
	path   string // dotted; "[]" steps into every list item
	ignore string
	refuse string
}

var kubeadmOnly = map[string][]kubeadmField{
	KindInit: {
		{path: "dryRun", ignore: "use --dry-run"},
		{path: "patches", ignore: "kubestrap applies no patches; use extraArgs and the KubeletConfiguration document"},
		{path: "timeouts", ignore: "kubestrap's waits have fixed bounds: the control plane 4 min, API calls 2 min"},
		{path: "nodeRegistration.imagePullSerial", ignore: "images are loaded from the release, not pulled"},
		{path: "nodeRegistration.taints.[].timeAdded", ignore: "set by the API server"},
		{path: "bootstrapTokens.[].expires", ignore: "use ttl"},
	},
	KindCluster: {
		{path: "etcd.external", refuse: "kubestrap runs stacked etcd on the control-plane nodes only; remove etcd.external"},
		{path: "dns.imageRepository", ignore: "CoreDNS comes from the release's images"},
		{path: "dns.imageTag", ignore: "CoreDNS comes from the release's images"},
		{path: "dns.disabled", ignore: "read as --skip-phases addons/coredns"},
		{path: "proxy.disabled", ignore: "read as --skip-phases addons/kube-proxy"},
		{path: "featureGates", ignore: "kubeadm's own feature gates; components' gates go in extraArgs"},
	},
	KindJoin: {
		{path: "dryRun", ignore: "use --dry-run"},
		{path: "patches", ignore: "kubestrap applies no patches"},
		{path: "timeouts", ignore: "kubestrap's waits have fixed bounds; discovery.timeout is read"},
		{path: "nodeRegistration.imagePullSerial", ignore: "images are loaded from the release, not pulled"},
		{path: "nodeRegistration.taints.[].timeAdded", ignore: "set by the API server"},
	},
}

// kubeadmDoc takes kubeadm's fields out of a kubeadm document before it is
// decoded as kubestrap's, noting each with its line. A disabled addon
// becomes a phase to skip.
func kubeadmDoc(node *yamlv3.Node, kind string, docs *Documents) error {
	first := len(docs.Warnings)
	defer func() { sortByLine(docs.Warnings[first:]) }()
	for _, f := range kubeadmOnly[kind] {
		for _, hit := range takeField(node, strings.Split(f.path, "."), "") {
			name := kind + "." + hit.path
			if f.refuse != "" {
				return &DecodeError{Line: hit.line, Msg: name + " is not supported", Hint: f.refuse}
			}
			docs.Warnings = append(docs.Warnings,
				fmt.Sprintf("line %d: %s is kubeadm's; kubestrap ignores it (%s)", hit.line, name, f.ignore))
			if hit.value.Value == "true" {
				switch f.path {
				case "dns.disabled":
					docs.SkipPhases = append(docs.SkipPhases, "addons/coredns")
				case "proxy.disabled":
					docs.SkipPhases = append(docs.SkipPhases, "addons/kube-proxy")
				}
			}
		}
	}
	// kubeadm's sections kubestrap has no counterpart of go once emptied.
	if kind == KindCluster {
		dropEmpty(node, "dns")
		dropEmpty(node, "proxy")
	}
	return nil
}

func dropEmpty(n *yamlv3.Node, key string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := n.Content[i+1]; n.Content[i].Value == key && v.Kind == yamlv3.MappingNode && len(v.Content) == 0 {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return
		}
	}
}

type taken struct {
	path  string
	line  int
	value *yamlv3.Node
}

// takeField removes the field at path from a mapping node (in every item
// of the lists "[]" steps into) and reports each removal, named from at.
func takeField(n *yamlv3.Node, path []string, at string) []taken {
	if len(path) == 0 {
		return nil
	}
	if path[0] == "[]" {
		var out []taken
		if n.Kind == yamlv3.SequenceNode {
			for i, item := range n.Content {
				out = append(out, takeField(item, path[1:], fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
		return out
	}
	if n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value != path[0] {
			continue
		}
		name := strings.TrimPrefix(at+"."+k.Value, ".")
		if len(path) == 1 {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return []taken{{path: name, line: k.Line, value: v}}
		}
		return takeField(v, path[1:], name)
	}
	return nil
}

// componentSlot is where a KubeletConfiguration or KubeProxyConfiguration
// document decodes (with the component's own types, strictly).
func (d *Documents) componentSlot(kind string, line int) (any, error) {
	switch kind {
	case KindKubelet:
		if d.Kubelet != nil {
			return nil, &DecodeError{Line: line, Msg: "a second " + kind + " document", Hint: "merge the two into one"}
		}
		d.Kubelet = &kubeletv1beta1.KubeletConfiguration{}
		return d.Kubelet, nil
	case KindKubeProxy:
		if d.KubeProxy != nil {
			return nil, &DecodeError{Line: line, Msg: "a second " + kind + " document", Hint: "merge the two into one"}
		}
		d.KubeProxy = &kubeproxyv1alpha1.KubeProxyConfiguration{}
		return d.KubeProxy, nil
	}
	return nil, &DecodeError{Line: line, Msg: "unknown kind " + kind}
}

// sortByLine orders "line N: ..." warnings by N, as the file reads.
func sortByLine(w []string) {
	line := func(s string) int {
		var n int
		_, _ = fmt.Sscanf(s, "line %d:", &n)
		return n
	}
	sort.SliceStable(w, func(i, j int) bool { return line(w[i]) < line(w[j]) })
}
