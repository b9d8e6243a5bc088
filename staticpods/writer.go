package staticpods

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/hostfs"
)

// ManifestMode keeps manifests private: they name key paths and flags.
const ManifestMode = 0o600

// Marshal renders a pod as the YAML the kubelet reads.
func Marshal(p *corev1.Pod) ([]byte, error) {
	return yaml.Marshal(p)
}

// Write writes a pod's manifest into dir as <name>.yaml, atomically, and
// reports whether the content changed. An unchanged file is not rewritten,
// so the kubelet does not restart a healthy pod on a re-run.
func Write(dir string, p *corev1.Pod) (path string, changed bool, err error) {
	data, err := Marshal(p)
	if err != nil {
		return "", false, fmt.Errorf("render %s: %w", p.Name, err)
	}
	path = filepath.Join(dir, p.Name+".yaml")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return path, false, nil
	}
	return path, true, hostfs.WriteFileAtomic(path, data, ManifestMode)
}

// Components are the static pods kubestrap writes, by name; each one's
// manifest is <name>.yaml in the manifest dir.
func Components() []string { return []string{Etcd, KubeAPIServer, ControllerManager, Scheduler} }

// ReadFlags returns the --name=value flags of a manifest's container, as
// the builders write them: reset reads etcd's member name, URLs and data
// dir back from the manifest, which knows them even when the API is down.
func ReadFlags(path, container string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p corev1.Pod
	if err := yaml.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, c := range p.Spec.Containers {
		if c.Name != container {
			continue
		}
		flags := map[string]string{}
		for _, a := range append(append([]string{}, c.Command...), c.Args...) {
			if name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") {
				flags[name] = value
			}
		}
		return flags, nil
	}
	return nil, fmt.Errorf("%s has no container %s", path, container)
}
