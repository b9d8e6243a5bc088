// Package images knows the image set of a Kubernetes version, and builds and
// loads the images tarball for air-gapped nodes and the lab.
package images

import (
	"fmt"

	"github.com/kubestrap/kubestrap/config"
)

// Versions are the etcd, CoreDNS and pause versions a Kubernetes minor
// expects. They are read from kubeadm's constants (DefaultEtcdVersion,
// CoreDNSVersion, PauseVersion) at the patch release named in Checked; the
// bundle's versions.env must agree for the default version (tested).
type Versions struct {
	Etcd    string
	CoreDNS string
	Pause   string
	Checked string
}

// versionsByMinor is data, keyed by Kubernetes minor.
var versionsByMinor = map[int]Versions{
	33: {Etcd: "3.5.24-0", CoreDNS: "v1.12.0", Pause: "3.10", Checked: "v1.33.13"},
	34: {Etcd: "3.6.5-0", CoreDNS: "v1.12.1", Pause: "3.10.1", Checked: "v1.34.4"},
	35: {Etcd: "3.6.6-0", CoreDNS: "v1.13.1", Pause: "3.10.1", Checked: "v1.35.4"},
	36: {Etcd: "3.6.8-0", CoreDNS: "v1.14.2", Pause: "3.10.2", Checked: "v1.36.3"},
}

// Flannel is the pod network kubestrap installs by default; the image
// reference is the one flannel's own Documentation/kube-flannel.yml uses.
const (
	FlannelVersion = "v0.28.10"
	FlannelImage   = "ghcr.io/flannel-io/flannel:" + FlannelVersion
)

// VersionsFor returns the component versions of a Kubernetes version.
func VersionsFor(kubernetesVersion string) (Versions, error) {
	v, err := config.ParseKubernetesVersion(kubernetesVersion)
	if err != nil {
		return Versions{}, err
	}
	cv, ok := versionsByMinor[v.Minor]
	if !ok {
		return Versions{}, fmt.Errorf("no component versions known for %s", kubernetesVersion)
	}
	return cv, nil
}

// ImageSet is every image a cluster of one configuration runs.
type ImageSet struct {
	APIServer         string `json:"kubeAPIServer"`
	ControllerManager string `json:"kubeControllerManager"`
	Scheduler         string `json:"kubeScheduler"`
	Proxy             string `json:"kubeProxy"`
	Etcd              string `json:"etcd"`
	CoreDNS           string `json:"coreDNS"`
	Pause             string `json:"pause"`
	Flannel           string `json:"flannel,omitempty"`
}

// Images returns the image set for a defaulted ClusterConfiguration. It is
// the single source of truth for manifests, addons and `images list`.
func Images(c *config.ClusterConfiguration) (ImageSet, error) {
	cv, err := VersionsFor(c.KubernetesVersion)
	if err != nil {
		return ImageSet{}, err
	}
	repo, kv := c.ImageRepository, c.KubernetesVersion
	s := ImageSet{
		APIServer:         repo + "/kube-apiserver:" + kv,
		ControllerManager: repo + "/kube-controller-manager:" + kv,
		Scheduler:         repo + "/kube-scheduler:" + kv,
		Proxy:             repo + "/kube-proxy:" + kv,
		Etcd:              repo + "/etcd:" + cv.Etcd,
		CoreDNS:           repo + "/coredns/coredns:" + cv.CoreDNS,
		Pause:             repo + "/pause:" + cv.Pause,
	}
	if l := c.Etcd.Local; l != nil && (l.ImageRepository != "" || l.ImageTag != "") {
		r, t := repo, cv.Etcd
		if l.ImageRepository != "" {
			r = l.ImageRepository
		}
		if l.ImageTag != "" {
			t = l.ImageTag
		}
		s.Etcd = r + "/etcd:" + t
	}
	if c.Networking.PodNetwork == "flannel" {
		s.Flannel = FlannelImage
	}
	return s, nil
}

// List returns the image references in a stable order.
func (s ImageSet) List() []string {
	out := []string{s.APIServer, s.ControllerManager, s.Scheduler, s.Proxy, s.Etcd, s.CoreDNS, s.Pause}
	if s.Flannel != "" {
		out = append(out, s.Flannel)
	}
	return out
}
