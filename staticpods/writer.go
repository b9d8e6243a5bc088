package staticpods

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
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
	return path, true, node.WriteFileAtomic(path, data, ManifestMode)
}

// Components are the static pods kubestrap writes, by name; each one's
// manifest is <name>.yaml in the manifest dir.
func Components() []string { return []string{Etcd, KubeAPIServer, ControllerManager, Scheduler} }

// AnnotationRestartedAt records when kubestrap last asked the kubelet to
// recreate a static pod (certs renew, so that it reads its renewed
// certificates).
const AnnotationRestartedAt = "kubestrap.io/restartedAt"

// MarkRestart sets AnnotationRestartedAt to at in the manifest of component
// in dir. The kubelet hashes the whole manifest, annotations included, into
// a static pod's identity, so a new value makes it stop the pod and start
// a new one — kubeadm's upgrades restart static pods by changing their
// manifests too —, and unlike moving the file out and back it leaves no
// moment without a manifest for a crash to make permanent.
func MarkRestart(dir, component string, at time.Time) error {
	path := filepath.Join(dir, component+".yaml")
	p, err := readPod(path)
	if err != nil {
		return err
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[AnnotationRestartedAt] = at.UTC().Format(time.RFC3339Nano)
	data, err := Marshal(p)
	if err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	return node.WriteFileAtomic(path, data, ManifestMode)
}

func readPod(path string) (*corev1.Pod, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p corev1.Pod
	if err := yaml.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// LocalAPIEndpoint reads the address and port this node's API server
// advertises from its manifest in dir, where init and join recorded them
// (AnnotationAPIServerEP): a node that joined has no configuration file
// that knows them.
func LocalAPIEndpoint(dir string) (config.APIEndpoint, error) {
	path := filepath.Join(dir, KubeAPIServer+".yaml")
	p, err := readPod(path)
	if err != nil {
		return config.APIEndpoint{}, err
	}
	host, port, err := net.SplitHostPort(p.Annotations[AnnotationAPIServerEP])
	if err != nil {
		return config.APIEndpoint{}, fmt.Errorf("%s: annotation %s: %w", path, AnnotationAPIServerEP, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return config.APIEndpoint{}, fmt.Errorf("%s: annotation %s: bad port %q", path, AnnotationAPIServerEP, port)
	}
	return config.APIEndpoint{AdvertiseAddress: host, BindPort: int32(n)}, nil
}

// ReadFlags returns the --name=value flags of a manifest's container, as
// the builders write them: reset reads etcd's member name, URLs and data
// dir back from the manifest, which knows them even when the API is down.
func ReadFlags(path, container string) (map[string]string, error) {
	p, err := readPod(path)
	if err != nil {
		return nil, err
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
