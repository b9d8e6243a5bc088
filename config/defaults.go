package config

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/layout"
)

// Defaults. They live here because they are part of the config API: a value
// printed by `kubestrap config print init-defaults` must be the one used.
const (
	DefaultKubernetesVersion   = "v1.35.4"
	DefaultServiceSubnet       = "10.96.0.0/12"
	DefaultPodSubnet           = "10.244.0.0/16"
	DefaultDNSDomain           = "cluster.local"
	DefaultPodNetwork          = "flannel"
	DefaultCertificatesDir     = layout.PKIDir
	DefaultImageRepository     = "registry.k8s.io"
	DefaultClusterName         = "kubernetes"
	DefaultEncryptionAlgorithm = "RSA-2048"
	DefaultEtcdDataDir         = "/var/lib/etcd"
	DefaultAPIBindPort         = layout.APIServerPort
	DefaultCRISocket           = "unix:///var/run/containerd/containerd.sock"
	DefaultCACertPath          = layout.CACertPath
	DefaultTokenTTL            = 24 * time.Hour
	DefaultCertValidity        = 365 * 24 * time.Hour
	DefaultCACertValidity      = 10 * 365 * 24 * time.Hour
	DefaultDiscoveryTimeout    = 5 * time.Minute
	// DefaultNodeTokenGroup is the group bootstrap tokens authenticate as;
	// init's RBAC lets this group create CSRs and join.
	DefaultNodeTokenGroup = "system:bootstrappers:kubestrap:default-node-token"
)

// DefaultTokenUsages are what a default bootstrap token may do.
var DefaultTokenUsages = []string{"signing", "authentication"}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setDuration(p **metav1.Duration, v time.Duration) {
	if *p == nil {
		*p = &metav1.Duration{Duration: v}
	}
}

// SetInitDefaults fills every unset field of the init documents. It never
// touches the host: the node name and advertise address, which depend on
// it, are filled by the caller.
func SetInitDefaults(c *Init) {
	c.APIVersion, c.Kind = APIVersion, KindInit
	if c.LocalAPIEndpoint.BindPort == 0 {
		c.LocalAPIEndpoint.BindPort = DefaultAPIBindPort
	}
	setString(&c.NodeRegistration.CRISocket, DefaultCRISocket)
	setString(&c.NodeRegistration.ImagePullPolicy, "IfNotPresent")
	if len(c.BootstrapTokens) == 0 {
		c.BootstrapTokens = []BootstrapToken{{}}
	}
	for i := range c.BootstrapTokens {
		t := &c.BootstrapTokens[i]
		setDuration(&t.TTL, DefaultTokenTTL)
		if len(t.Usages) == 0 {
			t.Usages = append([]string(nil), DefaultTokenUsages...)
		}
		if len(t.Groups) == 0 {
			t.Groups = []string{DefaultNodeTokenGroup}
		}
	}
	SetClusterDefaults(&c.Cluster)
	setNewClusterDefaults(&c.Cluster)
}

// Defaults of what a new cluster has on and a stored configuration without
// the field (a cluster made before kubestrap had it) keeps off.
const (
	DefaultSecretsEncryptionProvider = "aescbc"
	DefaultAuditLogDir               = "/var/log/kubernetes/audit"
	DefaultAuditMaxAge               = 7
	DefaultAuditMaxBackup            = 5
	DefaultAuditMaxSize              = 100
)

// setNewClusterDefaults turns on, for an init, what SetClusterDefaults
// must leave as it finds it: secrets encryption and the audit log. Their
// details are filled in either case, so that a file that only says
// `enabled: true` gets the rest.
// A configuration that sets the API server's flag itself (a kubeadm file
// with its own encryption or audit setup) keeps its own and gets neither.
func setNewClusterDefaults(c *ClusterConfiguration) {
	if c.SecretsEncryption == nil {
		c.SecretsEncryption = &SecretsEncryption{}
	}
	if c.SecretsEncryption.Enabled == nil {
		on := !hasArg(c.APIServer.ExtraArgs, "encryption-provider-config")
		c.SecretsEncryption.Enabled = &on
	}
	if c.APIServer.Audit == nil {
		c.APIServer.Audit = &Audit{}
	}
	if c.APIServer.Audit.Enabled == nil {
		on := !hasArg(c.APIServer.ExtraArgs, "audit-policy-file")
		c.APIServer.Audit.Enabled = &on
	}
	setFeatureDetails(c)
}

func setFeatureDetails(c *ClusterConfiguration) {
	if s := c.SecretsEncryption; s != nil {
		setString(&s.Provider, DefaultSecretsEncryptionProvider)
	}
	if a := c.APIServer.Audit; a != nil {
		setString(&a.LogDir, DefaultAuditLogDir)
		setInt32(&a.MaxAge, DefaultAuditMaxAge)
		setInt32(&a.MaxBackup, DefaultAuditMaxBackup)
		setInt32(&a.MaxSize, DefaultAuditMaxSize)
	}
}

func setInt32(p *int32, v int32) {
	if *p == 0 {
		*p = v
	}
}

// SetClusterDefaults fills every unset field of a ClusterConfiguration.
func SetClusterDefaults(c *ClusterConfiguration) {
	c.APIVersion, c.Kind = APIVersion, KindCluster
	setString(&c.KubernetesVersion, DefaultKubernetesVersion)
	setString(&c.Networking.ServiceSubnet, DefaultServiceSubnet)
	setString(&c.Networking.PodSubnet, DefaultPodSubnet)
	setString(&c.Networking.DNSDomain, DefaultDNSDomain)
	setString(&c.Networking.PodNetwork, DefaultPodNetwork)
	setString(&c.CertificatesDir, DefaultCertificatesDir)
	setString(&c.ImageRepository, DefaultImageRepository)
	setString(&c.ClusterName, DefaultClusterName)
	setString(&c.EncryptionAlgorithm, DefaultEncryptionAlgorithm)
	setDuration(&c.CertificateValidityPeriod, DefaultCertValidity)
	setDuration(&c.CACertificateValidityPeriod, DefaultCACertValidity)
	if c.Etcd.Local == nil {
		c.Etcd.Local = &LocalEtcd{}
	}
	setString(&c.Etcd.Local.DataDir, DefaultEtcdDataDir)
	setFeatureDetails(c)
}

// SetJoinDefaults fills every unset field of a JoinConfiguration.
func SetJoinDefaults(c *JoinConfiguration) {
	c.APIVersion, c.Kind = APIVersion, KindJoin
	setString(&c.NodeRegistration.CRISocket, DefaultCRISocket)
	setString(&c.NodeRegistration.ImagePullPolicy, "IfNotPresent")
	setString(&c.CACertPath, DefaultCACertPath)
	setDuration(&c.Discovery.Timeout, DefaultDiscoveryTimeout)
	if c.ControlPlane != nil && c.ControlPlane.LocalAPIEndpoint.BindPort == 0 {
		c.ControlPlane.LocalAPIEndpoint.BindPort = DefaultAPIBindPort
	}
	if c.Discovery.BootstrapToken != nil && c.Discovery.TLSBootstrapToken == "" {
		c.Discovery.TLSBootstrapToken = c.Discovery.BootstrapToken.Token
	}
}
