package renew

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/components/kubelet"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
)

// Settings are what a renewal needs to know about the cluster and node.
type Settings struct {
	CertDir  string
	Validity time.Duration
	// Source says where CertDir and Validity came from, for the user.
	Source      string
	CRIEndpoint string
}

// apiTimeout bounds the one API read: on a node whose certificates have
// expired the API server may be down, and renewal must go on without it.
const apiTimeout = 10 * time.Second

// LoadSettings finds the cluster's certificatesDir and
// certificateValidityPeriod: in init's record in kubeDir (on the first
// control-plane node), else in the ClusterConfiguration the cluster stores
// (kube-system/kubestrap-config, read with client; on nodes that joined),
// else the defaults. certDir and validity, when set (flags), win; with
// both set nothing is read. The CRI endpoint is the kubelet's.
func LoadSettings(ctx context.Context, kubeDir, certDir string, validity time.Duration,
	client func() (kubernetes.Interface, error)) Settings {
	s := Settings{CRIEndpoint: kubelet.RuntimeEndpoint(layout.KubeletConfigPath)}
	if s.CRIEndpoint == "" {
		s.CRIEndpoint = config.DefaultCRISocket
	}
	if certDir == "" || validity == 0 {
		s = s.from(clusterConfig(ctx, kubeDir, client))
	}
	if certDir != "" {
		s.CertDir = certDir
	}
	if validity != 0 {
		s.Validity, s.Source = validity, "--validity"
	}
	return s
}

// clusterConfig is the configuration LoadSettings uses, and its source.
func clusterConfig(ctx context.Context, kubeDir string, client func() (kubernetes.Interface, error)) (*config.ClusterConfiguration, string) {
	rec := filepath.Join(kubeDir, layout.InitRecord)
	if cluster, err := recordedCluster(rec); err == nil {
		return cluster, rec
	}
	cluster, err := uploadedCluster(ctx, client)
	if err == nil {
		return cluster, "kube-system/" + controlplane.ClusterConfigMap
	}
	cluster = &config.ClusterConfiguration{}
	config.SetClusterDefaults(cluster)
	return cluster, fmt.Sprintf("the defaults: no %s, and the cluster's configuration did not read (%v)", rec, err)
}

func (s Settings) from(c *config.ClusterConfiguration, source string) Settings {
	s.CertDir, s.Validity, s.Source = c.CertificatesDir, c.CertificateValidityPeriod.Duration, source
	return s
}

func recordedCluster(path string) (*config.ClusterConfiguration, error) {
	docs, err := config.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := config.InitFrom(docs)
	if err != nil {
		return nil, err
	}
	config.SetInitDefaults(c)
	return &c.Cluster, nil
}

func uploadedCluster(ctx context.Context, client func() (kubernetes.Interface, error)) (*config.ClusterConfiguration, error) {
	c, err := client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	return controlplane.DownloadConfig(ctx, c)
}

// AdminClient returns a client from kubeDir's admin.conf, for LoadSettings.
func AdminClient(kubeDir string) func() (kubernetes.Interface, error) {
	return func() (kubernetes.Interface, error) {
		rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(kubeDir, layout.AdminConf))
		if err != nil {
			return nil, err
		}
		rc.Timeout = apiTimeout
		return kubernetes.NewForConfig(rc)
	}
}
