package main

import (
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/config"
)

// initFlags are init's configuration flags; names follow kubeadm's.
type initFlags struct {
	configFile       string
	advertiseAddress string
	bindPort         int32
	endpoint         string
	podCIDR          string
	serviceCIDR      string
	dnsDomain        string
	version          string
	nodeName         string
	certDir          string
	extraSANs        []string
	token            string
	tokenTTL         time.Duration
	uploadCerts      bool
	certificateKey   string
	criSocket        string
	podNetwork       string
	imageRepository  string
	ignore           []string
	agentBinary      string
	untainted        bool
}

func (f *initFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.configFile, "config", "", "path to a kubestrap config file (InitConfiguration and ClusterConfiguration)")
	fs.StringVar(&f.advertiseAddress, "apiserver-advertise-address", "", "the IP address the API server advertises (default: detected from the default route)")
	fs.Int32Var(&f.bindPort, "apiserver-bind-port", config.DefaultAPIBindPort, "the port the API server listens on")
	fs.StringVar(&f.endpoint, "control-plane-endpoint", "", "a stable DNS name or IP[:port] for all control-plane nodes (a load balancer)")
	fs.StringVar(&f.podCIDR, "pod-network-cidr", config.DefaultPodSubnet, "the range of pod IPs; each node gets a /24 of it")
	fs.StringVar(&f.serviceCIDR, "service-cidr", config.DefaultServiceSubnet, "the range of Service IPs")
	fs.StringVar(&f.dnsDomain, "service-dns-domain", config.DefaultDNSDomain, "the cluster's DNS domain")
	fs.StringVar(&f.version, "kubernetes-version", config.DefaultKubernetesVersion, "the Kubernetes version of the control plane")
	fs.StringVar(&f.nodeName, "node-name", "", "the Node name (default: the host name)")
	fs.StringVar(&f.certDir, "cert-dir", config.DefaultCertificatesDir, "where the PKI is stored")
	fs.StringSliceVar(&f.extraSANs, "apiserver-cert-extra-sans", nil, "extra names and IPs for the API server certificate")
	fs.StringVar(&f.token, "token", "", "the bootstrap token, [a-z0-9]{6}.[a-z0-9]{16} (default: generated)")
	fs.DurationVar(&f.tokenTTL, "token-ttl", config.DefaultTokenTTL, "how long the bootstrap token lives; 0 for ever")
	fs.BoolVar(&f.uploadCerts, "upload-certs", false, "upload the control-plane certificates, encrypted, for control-plane join")
	fs.StringVar(&f.certificateKey, "certificate-key", "", "the AES-256 key (64 hex characters) for --upload-certs")
	fs.StringVar(&f.criSocket, "cri-socket", config.DefaultCRISocket, "the container runtime's CRI endpoint")
	fs.StringVar(&f.podNetwork, "pod-network", config.DefaultPodNetwork, "the pod network to install: flannel or none")
	fs.StringVar(&f.imageRepository, "image-repository", config.DefaultImageRepository, "where control-plane images come from")
	fs.StringSliceVar(&f.ignore, "ignore-preflight-errors", nil, "preflight checks whose errors become warnings, e.g. Swap,NumCPU, or all")
}

// registerInitOnly adds the flags that only init (not preflight) takes.
func (f *initFlags) registerInitOnly(fs *pflag.FlagSet) {
	fs.StringVar(&f.agentBinary, "agent-binary", "", "the kubelet to install (default: the one next to kubestrap)")
	fs.BoolVar(&f.untainted, "allow-schedule-on-control-plane", false, "do not taint the control-plane node (single-node clusters)")
}

// apply copies the flags the user set onto the config: set flags win over
// the file, unset flags leave the file's values (or the defaults) alone.
func (f *initFlags) apply(fs *pflag.FlagSet) func(*config.Init) {
	return func(c *config.Init) {
		set := func(name string, fn func()) {
			if fs.Changed(name) {
				fn()
			}
		}
		set("apiserver-advertise-address", func() { c.LocalAPIEndpoint.AdvertiseAddress = f.advertiseAddress })
		set("apiserver-bind-port", func() { c.LocalAPIEndpoint.BindPort = f.bindPort })
		set("control-plane-endpoint", func() { c.Cluster.ControlPlaneEndpoint = f.endpoint })
		set("pod-network-cidr", func() { c.Cluster.Networking.PodSubnet = f.podCIDR })
		set("service-cidr", func() { c.Cluster.Networking.ServiceSubnet = f.serviceCIDR })
		set("service-dns-domain", func() { c.Cluster.Networking.DNSDomain = f.dnsDomain })
		set("kubernetes-version", func() { c.Cluster.KubernetesVersion = f.version })
		set("node-name", func() { c.NodeRegistration.Name = f.nodeName })
		set("cert-dir", func() { c.Cluster.CertificatesDir = f.certDir })
		set("apiserver-cert-extra-sans", func() { c.Cluster.APIServer.CertSANs = append(c.Cluster.APIServer.CertSANs, f.extraSANs...) })
		set("token", func() { firstToken(c).Token = f.token })
		set("token-ttl", func() { firstToken(c).TTL = &metav1.Duration{Duration: f.tokenTTL} })
		set("upload-certs", func() { c.UploadCerts = f.uploadCerts })
		set("certificate-key", func() { c.CertificateKey = f.certificateKey })
		set("cri-socket", func() { c.NodeRegistration.CRISocket = f.criSocket })
		set("pod-network", func() { c.Cluster.Networking.PodNetwork = f.podNetwork })
		set("image-repository", func() { c.Cluster.ImageRepository = f.imageRepository })
		if fs.Lookup("allow-schedule-on-control-plane") != nil {
			set("allow-schedule-on-control-plane", func() {
				if f.untainted {
					c.NodeRegistration.Taints = []config.Taint{}
				}
			})
		}
		set("ignore-preflight-errors", func() {
			c.NodeRegistration.IgnorePreflightErrors = append(c.NodeRegistration.IgnorePreflightErrors, f.ignore...)
		})
	}
}

func firstToken(c *config.Init) *config.BootstrapToken {
	if len(c.BootstrapTokens) == 0 {
		c.BootstrapTokens = []config.BootstrapToken{{}}
	}
	return &c.BootstrapTokens[0]
}
