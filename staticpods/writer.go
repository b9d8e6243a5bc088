package staticpods

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

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
