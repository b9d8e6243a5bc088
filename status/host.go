package status

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/staticpods"
	"github.com/kubestrap/kubestrap/systemd"
)

// HostOptions say which host status looks at.
type HostOptions struct {
	// Root stands for "/" (a test's fake tree; "" is the real host).
	Root      node.Root
	Systemd   systemd.Manager
	Kubestrap string
	Now       time.Time
}

// ForHost wires Sources to the host: the files under /etc/kubernetes say
// the role; the probes are the ones init waits with.
func ForHost(o HostOptions) Sources {
	kubeDir := o.Root.Path(layout.KubernetesDir)
	manifests := filepath.Join(kubeDir, layout.ManifestsSubdir)
	s := Sources{Role: RoleOf(o.Root), Now: o.Now, Kubestrap: o.Kubestrap, UnitState: o.Systemd.ActiveState}
	s.NodeName = nodeName(kubeDir)
	if s.Role == None {
		return s
	}
	certDir := o.Root.Path(layout.PKIDir)
	if s.Role == ControlPlane {
		var c *config.Init
		s.StaticPods, c = controlPlaneProbes(o.Root, manifests)
		if c != nil && c.Cluster.CertificatesDir != "." {
			certDir = o.Root.Path(c.Cluster.CertificatesDir)
		}
		s.Etcd = LocalEtcdMembers(o.Root)
	}
	s.Certs = func() []certs.Expiry {
		c, err := config.LoadInit("", func(c *config.Init) { c.NodeRegistration.Name = s.NodeName })
		if err != nil {
			return nil
		}
		return certs.CheckExpiration(certDir, kubeDir, certs.Tree(c), certs.Kubeconfigs(c), o.Now)
	}
	admin := filepath.Join(kubeDir, layout.AdminConf)
	s.Admin = o.Root.Exists(layout.AdminConfPath)
	kubeconfig := filepath.Join(kubeDir, layout.KubeletConf)
	if s.Admin {
		kubeconfig = admin
	}
	s.Client = func() (kubernetes.Interface, error) { return client(kubeconfig) }
	return s
}

// RoleOf is the role of the node at root (node.RoleAt).
func RoleOf(root node.Root) Role { return node.RoleAt(root.Path(layout.KubernetesDir)) }

// nodeName is the name in the kubelet's client certificate, which is the
// Node it may act as; the host name when there is none.
func nodeName(kubeDir string) string {
	if c, err := certs.ReadKubeconfigCert(filepath.Join(kubeDir, layout.KubeletConf)); err == nil {
		if n, ok := strings.CutPrefix(c.Subject.CommonName, "system:node:"); ok {
			return n
		}
	}
	name, _ := node.DefaultName(os.Hostname)
	return name
}

// controlPlaneProbes are init's probes less the kubelet's (its unit state
// is reported already), with the API server's address from its manifest.
func controlPlaneProbes(root node.Root, manifests string) ([]staticpods.Probe, *config.Init) {
	c, err := staticpods.ProbeConfig(manifests)
	if err == nil {
		var probes []staticpods.Probe
		if probes, err = staticpods.ControlPlaneProbes(c, root.Path(c.Cluster.CertificatesDir)); err == nil {
			return slices.DeleteFunc(probes, func(p staticpods.Probe) bool { return p.Name == "kubelet" }), c
		}
	}
	return []staticpods.Probe{{Name: staticpods.KubeAPIServer, Check: func(context.Context) error { return err }}}, nil
}

// LocalEtcdMembers lists the members, with their health and the leader,
// through this node's member and the others its manifest names, with the
// node's etcd client certificate.
func LocalEtcdMembers(root node.Root) func(ctx context.Context) ([]etcd.Member, uint64, error) {
	return func(ctx context.Context) ([]etcd.Member, uint64, error) {
		le, err := staticpods.LocalMember(root)
		if err != nil {
			return nil, 0, err
		}
		c, err := etcd.Client(le.Endpoints, le.HostTLS(root))
		if err != nil {
			return nil, 0, err
		}
		defer func() { _ = c.Close() }()
		members, err := etcd.Members(ctx, c, etcd.HealthOf(le.HostTLS(root)))
		if err != nil {
			return nil, 0, err
		}
		leader, err := etcd.Leader(ctx, c, members)
		return members, leader, err
	}
}

func client(kubeconfig string) (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", kubeconfig, err)
	}
	rc.Timeout = callTimeout
	return kubernetes.NewForConfig(rc)
}
