// Package config holds kubestrap's configuration API (apiVersion
// kubestrap.io/v1alpha1): the InitConfiguration, ClusterConfiguration and
// JoinConfiguration documents, their defaults, strict decoding and validation.
// Field names follow kubeadm's v1beta4 wherever the concept is the same, so
// an admin who knows kubeadm's config can read and write kubestrap's.
package config

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/kubestrap/kubestrap/layout"
)

// APIVersion is the only apiVersion kubestrap accepts.
const APIVersion = "kubestrap.io/v1alpha1"

// Document kinds.
const (
	KindInit    = "InitConfiguration"
	KindCluster = "ClusterConfiguration"
	KindJoin    = "JoinConfiguration"
)

// InitConfiguration is what is specific to the node running `kubestrap init`.
type InitConfiguration struct {
	metav1.TypeMeta `json:",inline"`

	// BootstrapTokens are created by the bootstrap-token phase.
	BootstrapTokens []BootstrapToken `json:"bootstrapTokens,omitempty"`
	// NodeRegistration describes how this node registers.
	NodeRegistration NodeRegistrationOptions `json:"nodeRegistration,omitempty"`
	// LocalAPIEndpoint is where this node's API server listens.
	LocalAPIEndpoint APIEndpoint `json:"localAPIEndpoint,omitempty"`
	// CertificateKey encrypts the control-plane certificates uploaded for
	// control-plane join (64 hex characters, AES-256).
	CertificateKey string `json:"certificateKey,omitempty"`
	// UploadCerts uploads the control-plane certificates encrypted with
	// CertificateKey so that more control-plane nodes can join.
	UploadCerts bool `json:"uploadCerts,omitempty"`
	// SkipPhases lists phases to skip, like --skip-phases.
	SkipPhases []string `json:"skipPhases,omitempty"`
}

// ClusterConfiguration is shared by every node of the cluster.
type ClusterConfiguration struct {
	metav1.TypeMeta `json:",inline"`

	Etcd                 Etcd                  `json:"etcd,omitempty"`
	Networking           Networking            `json:"networking,omitempty"`
	KubernetesVersion    string                `json:"kubernetesVersion,omitempty"`
	ControlPlaneEndpoint string                `json:"controlPlaneEndpoint,omitempty"`
	APIServer            APIServer             `json:"apiServer,omitempty"`
	ControllerManager    ControlPlaneComponent `json:"controllerManager,omitempty"`
	Scheduler            ControlPlaneComponent `json:"scheduler,omitempty"`
	// CertificatesDir is where the PKI lives (default /etc/kubernetes/pki).
	CertificatesDir string `json:"certificatesDir,omitempty"`
	// ImageRepository prefixes every control-plane image.
	ImageRepository string `json:"imageRepository,omitempty"`
	// ClusterName names the cluster in kubeconfig files.
	ClusterName string `json:"clusterName,omitempty"`
	// EncryptionAlgorithm is the key type of every generated key:
	// RSA-2048 (default), RSA-3072, RSA-4096 or ECDSA-P256.
	EncryptionAlgorithm string `json:"encryptionAlgorithm,omitempty"`
	// CertificateValidityPeriod is the lifetime of leaf certificates (1 year).
	CertificateValidityPeriod *metav1.Duration `json:"certificateValidityPeriod,omitempty"`
	// CACertificateValidityPeriod is the lifetime of CA certificates (10 years).
	CACertificateValidityPeriod *metav1.Duration `json:"caCertificateValidityPeriod,omitempty"`
	// KubeletConfiguration is the base of every node's kubelet config:
	// kubestrap's settings are laid over it, the rest is kept. It comes from
	// a KubeletConfiguration document in init's file (kubeadm's way) and is
	// stored with the cluster, so that joins use it too. A kubestrap
	// extension.
	KubeletConfiguration *kubeletv1beta1.KubeletConfiguration `json:"kubeletConfiguration,omitempty"`
	// KubeProxyConfiguration is the base of kube-proxy's config, likewise.
	KubeProxyConfiguration *kubeproxyv1alpha1.KubeProxyConfiguration `json:"kubeProxyConfiguration,omitempty"`
	// SecretsEncryption encrypts Secrets in etcd (k3s's
	// --secrets-encryption). On for a new cluster; a cluster whose stored
	// configuration lacks it (made before kubestrap had it) keeps it off. A
	// kubestrap extension.
	SecretsEncryption *SecretsEncryption `json:"secretsEncryption,omitempty"`
}

// SecretsEncryption says whether and how the API server encrypts Secrets
// before it writes them to etcd.
type SecretsEncryption struct {
	// Enabled turns it on (the default at init).
	Enabled *bool `json:"enabled,omitempty"`
	// Provider is the cipher of the generated keys: aescbc (the default,
	// what Kubernetes' documentation and k3s use) or secretbox.
	Provider string `json:"provider,omitempty"`
}

// On says whether Secrets are encrypted at rest.
func (s *SecretsEncryption) On() bool { return s != nil && s.Enabled != nil && *s.Enabled }

// JoinConfiguration is what `kubestrap join` needs.
type JoinConfiguration struct {
	metav1.TypeMeta `json:",inline"`

	NodeRegistration NodeRegistrationOptions `json:"nodeRegistration,omitempty"`
	// CACertPath is where the discovered CA is written (default /etc/kubernetes/pki/ca.crt).
	CACertPath   string            `json:"caCertPath,omitempty"`
	Discovery    Discovery         `json:"discovery,omitempty"`
	ControlPlane *JoinControlPlane `json:"controlPlane,omitempty"`
	SkipPhases   []string          `json:"skipPhases,omitempty"`
	// Warnings name what the file set that kubestrap ignores.
	Warnings []string `json:"-"`
}

// BootstrapToken is a token for nodes joining the cluster.
type BootstrapToken struct {
	// Token is "[a-z0-9]{6}.[a-z0-9]{16}"; generated when empty.
	Token       string           `json:"token,omitempty"`
	Description string           `json:"description,omitempty"`
	TTL         *metav1.Duration `json:"ttl,omitempty"`
	Usages      []string         `json:"usages,omitempty"`
	Groups      []string         `json:"groups,omitempty"`
}

// NodeRegistrationOptions describes how a node registers with the cluster.
type NodeRegistrationOptions struct {
	// Name is the Node object's name (default: the host name, lower-cased).
	Name string `json:"name,omitempty"`
	// CRISocket is the container runtime endpoint (default containerd's).
	CRISocket string `json:"criSocket,omitempty"`
	// Taints to register with; nil means the default for the node's role.
	Taints                []Taint  `json:"taints,omitempty"`
	KubeletExtraArgs      []Arg    `json:"kubeletExtraArgs,omitempty"`
	IgnorePreflightErrors []string `json:"ignorePreflightErrors,omitempty"`
	ImagePullPolicy       string   `json:"imagePullPolicy,omitempty"`
}

// Taint mirrors core/v1 Taint without the timestamp.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// Arg is one command-line argument for a component, as in kubeadm v1beta4.
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// APIEndpoint is an address and port an API server listens on.
type APIEndpoint struct {
	AdvertiseAddress string `json:"advertiseAddress,omitempty"`
	BindPort         int32  `json:"bindPort,omitempty"`
}

// Etcd configures the stacked etcd member.
type Etcd struct {
	Local *LocalEtcd `json:"local,omitempty"`
}

// LocalEtcd is the etcd run as a static pod on control-plane nodes.
type LocalEtcd struct {
	ImageRepository string `json:"imageRepository,omitempty"`
	ImageTag        string `json:"imageTag,omitempty"`
	DataDir         string `json:"dataDir,omitempty"`
	ExtraArgs       []Arg  `json:"extraArgs,omitempty"`
	// ExtraEnvs are environment variables of etcd's container.
	ExtraEnvs      []corev1.EnvVar `json:"extraEnvs,omitempty"`
	ServerCertSANs []string        `json:"serverCertSANs,omitempty"`
	PeerCertSANs   []string        `json:"peerCertSANs,omitempty"`
}

// Networking holds the cluster's address ranges.
type Networking struct {
	ServiceSubnet string `json:"serviceSubnet,omitempty"`
	PodSubnet     string `json:"podSubnet,omitempty"`
	DNSDomain     string `json:"dnsDomain,omitempty"`
	// PodNetwork is the pod network kubestrap installs: flannel (default) or
	// none (bring your own CNI). A kubestrap extension.
	PodNetwork string `json:"podNetwork,omitempty"`
}

// ControlPlaneComponent holds settings common to control-plane components.
type ControlPlaneComponent struct {
	ExtraArgs []Arg `json:"extraArgs,omitempty"`
	// ExtraVolumes are host paths mounted into the component's static pod
	// besides kubestrap's own (kubeadm's field).
	ExtraVolumes []HostPathMount `json:"extraVolumes,omitempty"`
	// ExtraEnvs are environment variables of the component's container
	// (kubeadm's field), e.g. a proxy for a cloud provider's API.
	ExtraEnvs []corev1.EnvVar `json:"extraEnvs,omitempty"`
}

// HostPathMount is a host path mounted into a static pod, as kubeadm's.
type HostPathMount struct {
	Name      string              `json:"name"`
	HostPath  string              `json:"hostPath"`
	MountPath string              `json:"mountPath"`
	ReadOnly  bool                `json:"readOnly,omitempty"`
	PathType  corev1.HostPathType `json:"pathType,omitempty"`
}

// APIServer configures kube-apiserver.
type APIServer struct {
	ControlPlaneComponent `json:",inline"`
	CertSANs              []string `json:"certSANs,omitempty"`
	// Audit is the API server's audit log. On for a new cluster, like
	// SecretsEncryption. A kubestrap extension (kubeadm leaves it to
	// extraArgs and extraVolumes).
	Audit *Audit `json:"audit,omitempty"`
}

// Audit configures the API server's audit log: a policy and a log file
// on the host, rotated by the API server itself.
type Audit struct {
	// Enabled turns it on (the default at init).
	Enabled *bool `json:"enabled,omitempty"`
	// PolicyFile is an audit Policy on every control plane; empty: the one
	// kubestrap writes (metadata for most requests, never a request body
	// of a Secret, a ConfigMap or a token review).
	PolicyFile string `json:"policyFile,omitempty"`
	// LogDir is the host directory of audit.log (/var/log/kubernetes/audit).
	LogDir string `json:"logDir,omitempty"`
	// MaxAge (days), MaxBackup (files) and MaxSize (MiB) rotate the log.
	MaxAge    int32 `json:"maxAge,omitempty"`
	MaxBackup int32 `json:"maxBackup,omitempty"`
	MaxSize   int32 `json:"maxSize,omitempty"`
}

// On says whether the API server writes an audit log.
func (a *Audit) On() bool { return a != nil && a.Enabled != nil && *a.Enabled }

// Policy is the audit policy the API server reads: PolicyFile, or the one
// kubestrap writes.
func (a *Audit) Policy() string {
	if a.PolicyFile != "" {
		return a.PolicyFile
	}
	return layout.AuditPolicyPath
}

// Discovery says how a joining node finds and trusts the cluster.
type Discovery struct {
	BootstrapToken    *BootstrapTokenDiscovery `json:"bootstrapToken,omitempty"`
	File              *FileDiscovery           `json:"file,omitempty"`
	TLSBootstrapToken string                   `json:"tlsBootstrapToken,omitempty"`
	Timeout           *metav1.Duration         `json:"timeout,omitempty"`
}

// BootstrapTokenDiscovery discovers the cluster with a token and CA pins.
type BootstrapTokenDiscovery struct {
	Token                    string   `json:"token,omitempty"`
	APIServerEndpoint        string   `json:"apiServerEndpoint,omitempty"`
	CACertHashes             []string `json:"caCertHashes,omitempty"`
	UnsafeSkipCAVerification bool     `json:"unsafeSkipCAVerification,omitempty"`
}

// FileDiscovery discovers the cluster from a kubeconfig file or https URL.
type FileDiscovery struct {
	KubeConfigPath string `json:"kubeConfigPath"`
}

// JoinControlPlane makes a joining node a control-plane node.
type JoinControlPlane struct {
	LocalAPIEndpoint APIEndpoint `json:"localAPIEndpoint,omitempty"`
	CertificateKey   string      `json:"certificateKey,omitempty"`
}

// Init is everything `kubestrap init` works from: the node's and the
// cluster's documents together.
type Init struct {
	InitConfiguration
	Cluster ClusterConfiguration
	// Warnings name what the file set that kubestrap ignores.
	Warnings []string
}
