package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cloudflare/cfssl/helpers"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// KubeconfigSpec declares one kubeconfig file: whose identity it carries
// and which API server address it uses.
type KubeconfigSpec struct {
	// Name is the phase name, e.g. "admin".
	Name         string
	File         string
	CommonName   string
	Organization []string
	Server       string
}

// Kubeconfigs returns the kubeconfig files of a control-plane node.
// admin.conf and kubelet.conf use the cluster endpoint (the load balancer
// when there is one); the controller manager and scheduler talk to their
// own node's API server, as in kubeadm, so they keep working when the
// load balancer does not.
func Kubeconfigs(c *config.Init) []KubeconfigSpec {
	cluster, local := ClusterServer(c), LocalServer(c)
	node := c.NodeRegistration.Name
	return []KubeconfigSpec{
		{Name: "admin", File: layout.AdminConf, CommonName: "kubernetes-admin", Organization: []string{AdminGroup}, Server: cluster},
		{Name: "super-admin", File: layout.SuperAdminConf, CommonName: "kubernetes-super-admin",
			Organization: []string{"system:masters"}, Server: cluster},
		{Name: "kubelet", File: layout.KubeletConf, CommonName: "system:node:" + node,
			Organization: []string{"system:nodes"}, Server: cluster},
		{Name: "controller-manager", File: layout.ControllerManagerConf, CommonName: "system:kube-controller-manager", Server: local},
		{Name: "scheduler", File: layout.SchedulerConf, CommonName: "system:kube-scheduler", Server: local},
	}
}

// LocalServer is this node's API server URL.
func LocalServer(c *config.Init) string {
	return config.NewEndpoint(c.LocalAPIEndpoint.AdvertiseAddress, int(c.LocalAPIEndpoint.BindPort)).URL()
}

// ClusterEndpoint is the cluster's API endpoint: the control-plane
// endpoint when set (this node's bind port when it has none), else this
// node's.
func ClusterEndpoint(c *config.Init) config.Endpoint {
	port := int(c.LocalAPIEndpoint.BindPort)
	if c.Cluster.ControlPlaneEndpoint == "" {
		return config.NewEndpoint(c.LocalAPIEndpoint.AdvertiseAddress, port)
	}
	ep, _ := config.ParseEndpoint(c.Cluster.ControlPlaneEndpoint, port)
	return ep
}

// ClusterServer is the cluster's API URL (ClusterEndpoint's).
func ClusterServer(c *config.Init) string { return ClusterEndpoint(c).URL() }

// EnsureKubeconfig writes the kubeconfig of spec into dir with a client
// certificate signed by the cluster CA, or keeps the existing file when it
// points at the same server with the same CA. A file for another cluster is
// an error naming it.
func (p *PKI) EnsureKubeconfig(dir string, spec KubeconfigSpec, clusterName string) (Result, error) {
	path := filepath.Join(dir, spec.File)
	res := Result{Name: spec.Name, Path: path, Action: Reused}
	ca, caKey, err := p.LoadCA(caBase)
	if err != nil {
		return res, err
	}
	if existing, err := clientcmd.LoadFromFile(path); err == nil {
		return res, checkKubeconfig(path, existing, spec, ca)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("%s: %w (move it away to regenerate it)", path, err)
	}
	cfg, _, err := p.clientKubeconfig(ca, caKey, Subject{CommonName: spec.CommonName, Organization: spec.Organization},
		p.Validity, clusterName, spec.Server)
	if err != nil {
		return res, fmt.Errorf("%s: %w", spec.File, err)
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return res, err
	}
	res.Action = Generated
	return res, node.WriteFileAtomic(path, data, KeyMode)
}

// clientKubeconfig makes a key, signs a client certificate for sub with
// the CA, and embeds both in a kubeconfig for server; it returns the
// certificate too.
func (p *PKI) clientKubeconfig(ca *x509.Certificate, caKey crypto.Signer, sub Subject, validity time.Duration,
	clusterName, server string) (*clientcmdapi.Config, *x509.Certificate, error) {
	key, err := NewKey(p.Algorithm)
	if err != nil {
		return nil, nil, err
	}
	sub.Usages = []string{usageSigning, usageKeyEnc, usageClient}
	certPEM, err := SignLeaf(key, ca, caKey, sub, validity)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, nil, err
	}
	return NewKubeconfig(clusterName, server, sub.CommonName, EncodeCert(ca), certPEM, keyPEM), cert, nil
}

// NewKubeconfig builds a one-cluster, one-user kubeconfig with embedded
// credentials; keyPEM may be nil for a token or cluster-info kubeconfig.
func NewKubeconfig(clusterName, server, user string, caPEM, certPEM, keyPEM []byte) *clientcmdapi.Config {
	ctx := user + "@" + clusterName
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	if user != "" {
		cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
		cfg.Contexts[ctx] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
		cfg.CurrentContext = ctx
	}
	return cfg
}

// EncodeCert PEM-encodes a certificate.
func EncodeCert(c *x509.Certificate) []byte { return helpers.EncodeCertificatePEM(c) }

func checkKubeconfig(path string, kc *clientcmdapi.Config, spec KubeconfigSpec, ca *x509.Certificate) error {
	ctx, ok := kc.Contexts[kc.CurrentContext]
	if !ok {
		return fmt.Errorf("%s has no current context: move it away to regenerate it", path)
	}
	cluster, ok := kc.Clusters[ctx.Cluster]
	if !ok {
		return fmt.Errorf("%s: context %s names a missing cluster: move it away to regenerate it", path, kc.CurrentContext)
	}
	if !bytes.Equal(bytes.TrimSpace(cluster.CertificateAuthorityData), bytes.TrimSpace(EncodeCert(ca))) {
		return fmt.Errorf("%s trusts another CA than %s: it belongs to another cluster; move it away to regenerate it",
			path, "ca.crt")
	}
	if cluster.Server != spec.Server {
		return fmt.Errorf("%s points at %s, but this configuration needs %s: move it away to regenerate it",
			path, cluster.Server, spec.Server)
	}
	return nil
}

// ReadKubeconfigCert returns the client certificate embedded in (or
// referenced by) a kubeconfig's current user, for expiry checks. A
// referenced file may hold the key too (the kubelet's does).
func ReadKubeconfigCert(path string) (*x509.Certificate, error) {
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, err
	}
	user, err := currentUser(kc, path)
	if err != nil {
		return nil, err
	}
	if len(user.ClientCertificateData) > 0 {
		return ParseCertPEM(user.ClientCertificateData)
	}
	if file := kubeconfigCertFile(path); file != "" {
		return ReadCertFile(file)
	}
	return nil, fmt.Errorf("%s: user %s has no client certificate", path, kc.Contexts[kc.CurrentContext].AuthInfo)
}
