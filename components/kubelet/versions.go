package kubelet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// VersionsDir is where install.sh keeps each Kubernetes version's kubelet
// (kubelets/VERSION/kubelet) beside the release: a newer release never
// takes away the kubelet a node runs.
const VersionsDir = "kubelets"

// ReleaseVersion is the Kubernetes version of the release kubestrap runs
// from: its kubernetes-version file (make dist and install.sh write it),
// else what its kubelet says; "" when neither is there.
func ReleaseVersion() string {
	dir, err := ReleaseDir()
	if err != nil {
		return ""
	}
	if b, err := os.ReadFile(filepath.Join(dir, "kubernetes-version")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return BinaryVersion(filepath.Join(dir, "kubelet"))
}

// AvailableVersions are the Kubernetes versions whose kubelets the
// installed releases hold, oldest first.
func AvailableVersions() []string {
	dir, err := ReleaseDir()
	if err != nil {
		return nil
	}
	set := map[string]bool{}
	if v := ReleaseVersion(); v != "" {
		set[v] = true
	}
	entries, _ := os.ReadDir(filepath.Join(dir, VersionsDir))
	for _, e := range entries {
		if node.Exists(filepath.Join(dir, VersionsDir, e.Name(), "kubelet")) {
			set[e.Name()] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return versionKey(out[i]) < versionKey(out[j]) })
	return out
}

func versionKey(v string) string {
	var a, b, c int
	_, _ = fmt.Sscanf(v, "v%d.%d.%d", &a, &b, &c)
	return fmt.Sprintf("%05d%05d%05d", a, b, c)
}

// AgentFor is the kubelet of a Kubernetes version among the installed
// releases: kubelets/VERSION/kubelet, or the release's own kubelet when
// the release is of that version.
func AgentFor(version string) (string, error) {
	dir, err := ReleaseDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, VersionsDir, version, "kubelet")
	if node.Exists(p) {
		return p, nil
	}
	if own := filepath.Join(dir, "kubelet"); ReleaseVersion() == version && node.Exists(own) {
		return own, nil
	}
	return "", fmt.Errorf("no kubelet %s among the installed releases (%s): install the kubestrap release of "+
		"Kubernetes %s on this node first (make dist KUBERNETES_VERSION=%s; its install.sh)", version,
		strings.Join(AvailableVersions(), ", "), version, version)
}

// BinaryVersion is what `kubelet --version` says ("v1.35.4"), or "" when
// the binary is missing or does not answer.
func BinaryVersion(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// InstalledVersion is the version of the kubelet this node runs.
func InstalledVersion(root node.Root) string { return BinaryVersion(root.Path(layout.KubeletBinary)) }

// NodeName is the name this node's kubelet registered under (its client
// certificate's), or "" when it has none.
func NodeName(kubeDir string) string {
	c, err := certs.ReadKubeconfigCert(filepath.Join(kubeDir, layout.KubeletConf))
	if err != nil {
		return ""
	}
	n, _ := strings.CutPrefix(c.Subject.CommonName, "system:node:")
	return n
}
