// Package addons renders and applies CoreDNS, kube-proxy and flannel, and
// writes a node's CNI configuration.
package addons

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"text/template"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
)

//go:embed *.yaml
var addonFS embed.FS

// cniConfigScript is the flannel DaemonSet's cni-config container.
//
//go:embed cni-config.sh
var cniConfigScript string

// Render fills an addon's manifest template.
func Render(name string, data any) ([]byte, error) {
	src, err := fs.ReadFile(addonFS, name+".yaml")
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Funcs(template.FuncMap{"indent": indent}).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

// CoreDNSManifest renders CoreDNS for the cluster.
// Without an upstream, CoreDNS answers cluster names only (no forward and
// no loop plugin, which would fail on a missing upstream).
func CoreDNSManifest(c *config.ClusterConfiguration, img images.ImageSet, server string, upstream bool) ([]byte, error) {
	ip, err := kubelet.ClusterDNSIP(c.Networking.ServiceSubnet)
	if err != nil {
		return nil, err
	}
	host, port, err := apiHostPort(server)
	if err != nil {
		return nil, err
	}
	return Render("coredns", map[string]any{"DNSDomain": c.Networking.DNSDomain, "DNSIP": ip.String(),
		"Image": img.CoreDNS, "Upstream": upstream, "APIHost": host, "APIPort": port})
}

// ConntrackWritable reports whether nf_conntrack_max can be written here.
// In containers (the lab) and some hardened hosts it cannot, and kube-proxy
// then crashes unless told not to touch it.
func ConntrackWritable(root node.Root) bool {
	f, err := os.OpenFile(root.Path("/proc/sys/net/netfilter/nf_conntrack_max"), os.O_WRONLY, 0)
	if err != nil {
		return !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EPERM)
	}
	_ = f.Close()
	return true
}

// KubeProxyConfig is kube-proxy's configuration in iptables mode. With
// conntrackWritable false, maxPerCore 0 tells it to leave the limit alone.
func KubeProxyConfig(c *config.ClusterConfiguration, conntrackWritable bool) ([]byte, error) {
	// The user's KubeProxyConfiguration is the base; kubestrap owns only
	// the pod network and the kubeconfig path its DaemonSet mounts, and
	// picks iptables when the user picked no mode.
	cfg := kubeproxyv1alpha1.KubeProxyConfiguration{}
	if c.KubeProxyConfiguration != nil {
		cfg = *c.KubeProxyConfiguration.DeepCopy()
	}
	cfg.TypeMeta = metav1.TypeMeta{APIVersion: "kubeproxy.config.k8s.io/v1alpha1", Kind: "KubeProxyConfiguration"}
	cfg.ClusterCIDR = c.Networking.PodSubnet
	if cfg.Mode == "" {
		cfg.Mode = "iptables"
	}
	cfg.ClientConnection.Kubeconfig = "/var/lib/kube-proxy/kubeconfig.conf"
	if !conntrackWritable {
		zero := int32(0)
		cfg.Conntrack.MaxPerCore = &zero
	}
	return yaml.Marshal(cfg)
}

// KubeProxyManifest renders kube-proxy for the cluster.
func KubeProxyManifest(c *config.ClusterConfiguration, img images.ImageSet, server string, conntrackWritable bool) ([]byte, error) {
	cfg, err := KubeProxyConfig(c, conntrackWritable)
	if err != nil {
		return nil, err
	}
	return Render("kube-proxy", map[string]string{"Config": string(cfg), "Server": server, "Image": img.Proxy})
}

// FlannelManifest renders flannel in kube-subnet-mgr mode with vxlan.
func FlannelManifest(c *config.ClusterConfiguration, img images.ImageSet, server string) ([]byte, error) {
	host, port, err := apiHostPort(server)
	if err != nil {
		return nil, err
	}
	return Render("flannel", map[string]string{"PodSubnet": c.Networking.PodSubnet, "Image": img.Flannel,
		"APIHost": host, "APIPort": port, "CNIConfigScript": cniConfigScript})
}

// apiHostPort splits "https://host:port".
func apiHostPort(server string) (string, string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", "", err
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", "", fmt.Errorf("API server URL %q: %w", server, err)
	}
	return host, port, nil
}
