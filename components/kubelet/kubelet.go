// Package kubelet configures and starts the bundled node agent: its
// KubeletConfiguration, flags, systemd unit and kubeconfig.
package kubelet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// Params are the host- and cluster-specific inputs of the kubelet's
// configuration; everything else is fixed by kubestrap.
type Params struct {
	ClusterDNS    netip.Addr
	ClusterDomain string
	ClientCAFile  string
	CgroupDriver  string // "systemd" or "cgroupfs", equal to the runtime's
	CgroupV1      bool
	CRIEndpoint   string
	// ResolvConf is the resolver file pods inherit; on systemd-resolved
	// hosts it must be the real upstream list, not the 127.0.0.53 stub.
	ResolvConf string
}

// ClusterDNSIP is CoreDNS's Service IP: the tenth address of the service
// subnet, as in kubeadm.
func ClusterDNSIP(serviceSubnet string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(serviceSubnet)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("service subnet %q: %w", serviceSubnet, err)
	}
	a := p.Masked().Addr()
	for i := 0; i < 10; i++ {
		a = a.Next()
	}
	return a, nil
}

// Config builds the KubeletConfiguration: static pods from the
// manifest dir, webhook authn/authz with the cluster CA, rotated client
// certificates, and the cgroup driver of the runtime.
func Config(p Params) *kubeletv1beta1.KubeletConfiguration {
	f, t := false, true
	c := &kubeletv1beta1.KubeletConfiguration{
		TypeMeta:      metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration"},
		StaticPodPath: layout.ManifestDir,
		Authentication: kubeletv1beta1.KubeletAuthentication{
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: p.ClientCAFile},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: &t},
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: &f},
		},
		Authorization:            kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook},
		CgroupDriver:             p.CgroupDriver,
		ClusterDNS:               []string{p.ClusterDNS.String()},
		ClusterDomain:            p.ClusterDomain,
		RotateCertificates:       true,
		ContainerRuntimeEndpoint: p.CRIEndpoint,
		HealthzBindAddress:       "127.0.0.1",
		ResolverConfig:           &p.ResolvConf,
	}
	hp := int32(10248)
	c.HealthzPort = &hp
	if p.CgroupV1 {
		// Kubernetes v1.35 refuses cgroup v1 unless told otherwise; CentOS 7
		// and many VMs still run it.
		c.FailCgroupV1 = &f
	}
	return c
}

// ConfigOver lays Config(p) over base, the cluster's
// KubeletConfiguration from the user (nil for none): the user's other
// settings stay. It names each of the user's settings kubestrap replaced.
func ConfigOver(base *kubeletv1beta1.KubeletConfiguration, p Params) (*kubeletv1beta1.KubeletConfiguration, []string, error) {
	own := Config(p)
	if base == nil {
		return own, nil, nil
	}
	out := &kubeletv1beta1.KubeletConfiguration{}
	replaced, err := config.Overlay(base, own, out)
	return out, replaced, err
}

// Flags are the per-node flags that do not belong in the shared
// config: the node IP and name, and the admin's kubeletExtraArgs.
func Flags(nodeIP, nodeName string, extra []config.Arg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--node-ip=%s --hostname-override=%s", nodeIP, nodeName)
	for _, a := range extra {
		fmt.Fprintf(&b, " --%s=%s", a.Name, a.Value)
	}
	return "KUBELET_KUBESTRAP_ARGS=\"" + b.String() + "\"\n"
}

// WriteConfig writes config.yaml and the flags file into dir
// (normally /var/lib/kubelet) atomically.
func WriteConfig(dir string, c *kubeletv1beta1.KubeletConfiguration, flags string) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := node.WriteFileAtomic(filepath.Join(dir, layout.KubeletConfigFile), data, 0o644); err != nil {
		return err
	}
	return node.WriteFileAtomic(filepath.Join(dir, layout.KubeletFlagsFile), []byte(flags), 0o644)
}

// RuntimeEndpoint is the CRI endpoint the node's kubelet uses, read from
// its configuration (normally layout.KubeletConfigPath); "" when that does
// not say.
func RuntimeEndpoint(configPath string) string {
	var kc struct {
		ContainerRuntimeEndpoint string `json:"containerRuntimeEndpoint"`
	}
	b, err := os.ReadFile(configPath)
	if err != nil || yaml.Unmarshal(b, &kc) != nil {
		return ""
	}
	return kc.ContainerRuntimeEndpoint
}

// ResolvConfFor picks the resolver file for pods with dnsPolicy Default
// (CoreDNS among them): systemd-resolved's upstream list, else
// /etc/resolv.conf, as long as it names a nameserver that is not on
// loopback. A loopback nameserver (127.0.0.53 of systemd-resolved, 127.0.0.11
// of Docker's DNS) would be CoreDNS itself inside the pod: a forwarding
// loop. With none left it returns "" and false: pods get no upstream.
func ResolvConfFor(root node.Root) (string, bool) {
	for _, p := range []string{"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"} {
		b, err := root.ReadFile(p)
		if err == nil && hasUpstream(string(b)) {
			return p, true
		}
	}
	return "", false
}

func hasUpstream(resolv string) bool {
	for _, l := range strings.Split(resolv, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" {
			if ip, err := netip.ParseAddr(f[1]); err == nil && !ip.IsLoopback() {
				return true
			}
		}
	}
	return false
}
