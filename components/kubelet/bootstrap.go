package kubelet

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"

	"github.com/kubestrap/kubestrap/poll"
)

// ClientPairPrefix names the kubelet's client certificate files in its
// PKI dir (kubelet-client-<time>.pem and kubelet-client-current.pem), the
// layout the kubelet's own certificate manager reads and rotates.
const ClientPairPrefix = "kubelet-client"

// NodeUser is the user a node's client certificate names.
func NodeUser(node string) string { return "system:node:" + node }

// BootstrapClientCert does the kubelet's TLS bootstrap for it, before the
// kubelet starts: an ECDSA P-256 key and a CSR for system:node:<node>
// signed by kubernetes.io/kube-apiserver-client-kubelet, sent with the
// bootstrap token's client c, the same request the kubelet would send and
// that kube-controller-manager approves for bootstrap tokens. The signed
// pair goes where the kubelet keeps its rotated pair (pkiDir). It returns
// the CSR's name.
//
// Why not leave it to the kubelet: with certificate rotation on, the
// kubelet bootstraps in the background and meanwhile tries to register
// anonymously, backing off up to 7 s; started with a valid certificate it
// registers at once.
//
// s reports progress while the CSR waits: right after init the controller
// manager takes a few seconds more to start the controllers that sign it.
func BootstrapClientCert(ctx context.Context, c kubernetes.Interface, node, pkiDir string, s poll.Spec) (string, error) {
	keyPEM, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return "", err
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return "", err
	}
	csrPEM, err := certutil.MakeCSR(key, &pkix.Name{CommonName: NodeUser(node), Organization: []string{"system:nodes"}}, nil, nil)
	if err != nil {
		return "", err
	}
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	name, uid, err := csr.RequestCertificateWithContext(ctx, c, csrPEM, "", certificatesv1.KubeAPIServerClientKubeletSignerName,
		nil, usages, key)
	if err != nil {
		return "", fmt.Errorf("create the kubelet's certificate signing request with the bootstrap token: %w", err)
	}
	s.What = "the controller manager to approve and sign certificate signing request " + name
	stop := progress(ctx, s)
	certPEM, err := csr.WaitForCertificate(ctx, c, name, uid)
	stop()
	if err != nil {
		return name, fmt.Errorf("certificate signing request %s was not signed: %v; kube-controller-manager approves and "+
			"signs it for bootstrap tokens: check that it runs (`kubectl -n kube-system get pods`) and `kubectl get csr %s`",
			name, err, name)
	}
	if err := os.MkdirAll(pkiDir, 0o755); err != nil {
		return name, err
	}
	store, err := certificate.NewFileStore(ClientPairPrefix, pkiDir, pkiDir, "", "")
	if err != nil {
		return name, err
	}
	_, err = store.Update(certPEM, keyPEM)
	return name, err
}

// progress prints poll's "still waiting" lines until the returned stop is
// called; stop returns once the last line is out.
func progress(ctx context.Context, s poll.Spec) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = poll.Until(ctx, s, func(ctx context.Context) (bool, error) { return ctx.Err() != nil, nil })
	}()
	return func() { cancel(); <-done }
}

// ValidClientCert says whether the pair at path is a client certificate
// of node, issued by ca and valid for at least another minute: such a
// pair is kept, never replaced by a new bootstrap.
func ValidClientCert(path, node string, ca *x509.Certificate, now time.Time) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	certsIn, err := certutil.ParseCertsPEM(data)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	leaf := certsIn[0]
	switch {
	case leaf.Subject.CommonName != NodeUser(node):
		return fmt.Errorf("%s is for %s, not %s", path, leaf.Subject.CommonName, NodeUser(node))
	case now.Add(time.Minute).After(leaf.NotAfter):
		return fmt.Errorf("%s expired at %s", path, leaf.NotAfter.UTC().Format(time.RFC3339))
	case leaf.CheckSignatureFrom(ca) != nil:
		return errors.New(path + " is not signed by this cluster's CA")
	}
	return nil
}
