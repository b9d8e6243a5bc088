package components

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/hostfs"
)

//go:embed addons/*.yaml
var addonFS embed.FS

// RenderAddon fills an addon's manifest template.
func RenderAddon(name string, data any) ([]byte, error) {
	src, err := fs.ReadFile(addonFS, "addons/"+name+".yaml")
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

// DecodeObjects decodes a multi-document manifest into typed objects.
func DecodeObjects(manifest []byte) ([]runtime.Object, error) {
	var out []runtime.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode manifest: %w", err)
		}
		out = append(out, obj)
	}
}

// ApplyObjects creates or updates objects: namespaces first, then the rest
// concurrently (they do not depend on each other for creation).
func ApplyObjects(ctx context.Context, c kubernetes.Interface, objs []runtime.Object) error {
	var rest []func() error
	for _, o := range objs {
		if ns, ok := o.(*corev1.Namespace); ok {
			if err := CreateOrUpdate(ctx, c.CoreV1().Namespaces(), ns); err != nil {
				return err
			}
			continue
		}
		rest = append(rest, func() error { return applyOne(ctx, c, o) })
	}
	return Concurrently(rest...)
}

func applyOne(ctx context.Context, c kubernetes.Interface, o runtime.Object) error {
	switch o := o.(type) {
	case *corev1.ServiceAccount:
		return CreateOrUpdate(ctx, c.CoreV1().ServiceAccounts(o.Namespace), o)
	case *corev1.ConfigMap:
		return CreateOrUpdate(ctx, c.CoreV1().ConfigMaps(o.Namespace), o)
	case *corev1.Service:
		return CreateOrUpdate(ctx, c.CoreV1().Services(o.Namespace), o)
	case *rbacv1.ClusterRole:
		return CreateOrUpdate(ctx, c.RbacV1().ClusterRoles(), o)
	case *rbacv1.ClusterRoleBinding:
		return CreateOrUpdate(ctx, c.RbacV1().ClusterRoleBindings(), o)
	case *rbacv1.Role:
		return CreateOrUpdate(ctx, c.RbacV1().Roles(o.Namespace), o)
	case *rbacv1.RoleBinding:
		return CreateOrUpdate(ctx, c.RbacV1().RoleBindings(o.Namespace), o)
	case *appsv1.Deployment:
		return CreateOrUpdate(ctx, c.AppsV1().Deployments(o.Namespace), o)
	case *appsv1.DaemonSet:
		return CreateOrUpdate(ctx, c.AppsV1().DaemonSets(o.Namespace), o)
	}
	return fmt.Errorf("addon object of unsupported type %T", o)
}

// CoreDNSManifest renders CoreDNS for the cluster.
// Without an upstream, CoreDNS answers cluster names only (no forward and
// no loop plugin, which would fail on a missing upstream).
func CoreDNSManifest(c *config.ClusterConfiguration, img ImageSet, server string, upstream bool) ([]byte, error) {
	ip, err := ClusterDNSIP(c.Networking.ServiceSubnet)
	if err != nil {
		return nil, err
	}
	host, port, err := apiHostPort(server)
	if err != nil {
		return nil, err
	}
	return RenderAddon("coredns", map[string]any{"DNSDomain": c.Networking.DNSDomain, "DNSIP": ip.String(),
		"Image": img.CoreDNS, "Upstream": upstream, "APIHost": host, "APIPort": port})
}

// ConntrackWritable reports whether nf_conntrack_max can be written here.
// In containers (the lab) and some hardened hosts it cannot, and kube-proxy
// then crashes unless told not to touch it.
func ConntrackWritable(root hostfs.Root) bool {
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
	cfg := kubeproxyv1alpha1.KubeProxyConfiguration{
		TypeMeta:    metav1.TypeMeta{APIVersion: "kubeproxy.config.k8s.io/v1alpha1", Kind: "KubeProxyConfiguration"},
		ClusterCIDR: c.Networking.PodSubnet,
		Mode:        "iptables",
	}
	cfg.ClientConnection.Kubeconfig = "/var/lib/kube-proxy/kubeconfig.conf"
	if !conntrackWritable {
		zero := int32(0)
		cfg.Conntrack.MaxPerCore = &zero
	}
	return yaml.Marshal(cfg)
}

// KubeProxyManifest renders kube-proxy for the cluster.
func KubeProxyManifest(c *config.ClusterConfiguration, img ImageSet, server string, conntrackWritable bool) ([]byte, error) {
	cfg, err := KubeProxyConfig(c, conntrackWritable)
	if err != nil {
		return nil, err
	}
	return RenderAddon("kube-proxy", map[string]string{"Config": string(cfg), "Server": server, "Image": img.Proxy})
}

// FlannelManifest renders flannel in kube-subnet-mgr mode with vxlan.
func FlannelManifest(c *config.ClusterConfiguration, img ImageSet, server string) ([]byte, error) {
	host, port, err := apiHostPort(server)
	if err != nil {
		return nil, err
	}
	return RenderAddon("flannel", map[string]string{"PodSubnet": c.Networking.PodSubnet, "Image": img.Flannel,
		"APIHost": host, "APIPort": port})
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
