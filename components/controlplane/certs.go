package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/config"
)

// Names of the uploaded certificates' objects in kube-system: kubeadm's, so
// that either tool joins with a Secret the other uploaded.
const (
	CertsSecret = "kubeadm-certs"
	// CertsReaders names the Role and RoleBinding that let joining nodes
	// get CertsSecret.
	CertsReaders = "kubeadm:" + CertsSecret
	// CertsTTL is how long the uploaded certificates live: they are
	// garbage-collected with the token that owns them.
	CertsTTL = 2 * time.Hour
	// certsTokenDescription is kubeadm's description of that token.
	certsTokenDescription = "Proxy for managing TTL for the kubeadm-certs secret"
	// kubeadmNodeTokenGroup is kubeadm's group of node bootstrap tokens,
	// bound too so that kubeadm's joining nodes can read the Secret.
	kubeadmNodeTokenGroup = "system:bootstrappers:kubeadm:default-node-token"
)

// ErrCertsExpired means the kubeadm-certs Secret is gone.
var ErrCertsExpired = errors.New("the uploaded certificates expire 2 h after upload, or were never uploaded: " +
	"run `kubestrap init phase upload-certs --upload-certs` on a control-plane node and use the key it prints")

// UploadCerts encrypts the shared certificates of certDir under the
// certificate key and stores them in the kubeadm-certs Secret, owned by a
// new token that expires CertsTTL after now, and lets node bootstrap tokens
// get it. It returns the owner token's id.
func UploadCerts(ctx context.Context, c kubernetes.Interface, certDir, keyHex string, now time.Time) (tokenID string, err error) {
	// Encrypt first: unreadable files must not leave an orphan token.
	data, err := certs.EncryptForUpload(certDir, keyHex)
	if err != nil {
		return "", err
	}
	owner, err := createCertsToken(ctx, c, now)
	if err != nil {
		return "", err
	}
	ref := metav1.NewControllerRef(owner, schema.GroupVersionKind{Version: "v1", Kind: "Secret"})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: CertsSecret, Namespace: metav1.NamespaceSystem,
			OwnerReferences: []metav1.OwnerReference{*ref}},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	if err := apply.CreateOrUpdate(ctx, c.CoreV1().Secrets(metav1.NamespaceSystem), secret); err != nil {
		return "", err
	}
	if err := certsRBAC(ctx, c); err != nil {
		return "", err
	}
	return string(owner.Data[bootstrapapi.BootstrapTokenIDKey]), nil
}

// createCertsToken creates kubeadm's short-lived owner token: no usages and
// no groups, so it authenticates nobody and only carries the expiry that
// the token cleaner enforces by deleting it, and with it the Secret. It is
// left out of the token-info ConfigMap, which only serves joining nodes.
// (tokens.Secret is not reused: the tokens tests import this package.)
func createCertsToken(ctx context.Context, c kubernetes.Interface, now time.Time) (*corev1.Secret, error) {
	tok, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return nil, fmt.Errorf("generate the token of the uploaded certificates: %w", err)
	}
	id, secret, _ := strings.Cut(tok, ".")
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data: map[string][]byte{
			bootstrapapi.BootstrapTokenIDKey:          []byte(id),
			bootstrapapi.BootstrapTokenSecretKey:      []byte(secret),
			bootstrapapi.BootstrapTokenDescriptionKey: []byte(certsTokenDescription),
			bootstrapapi.BootstrapTokenExpirationKey:  []byte(now.Add(CertsTTL).UTC().Format(time.RFC3339)),
		},
	}
	created, err := c.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create the token of the uploaded certificates: %w", err)
	}
	return created, nil
}

// certsRBAC lets bootstrap tokens of both tools' node groups get (only)
// the Secret; without the key its content is useless to them.
func certsRBAC(ctx context.Context, c kubernetes.Interface) error {
	ns := metav1.NamespaceSystem
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: CertsReaders, Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: []string{CertsSecret}, Verbs: []string{"get"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: CertsReaders, Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: CertsReaders},
		Subjects: []rbacv1.Subject{apply.Group(kubeadmNodeTokenGroup), apply.Group(config.DefaultNodeTokenGroup)}}
	return apply.Concurrently(
		func() error { return apply.CreateOrUpdate(ctx, c.RbacV1().Roles(ns), role) },
		func() error { return apply.CreateOrUpdate(ctx, c.RbacV1().RoleBindings(ns), binding) },
	)
}

// DownloadCerts fetches the kubeadm-certs Secret and writes the shared
// certificates into certDir (see certs.DecryptDownloaded), returning the
// paths written. A missing Secret is ErrCertsExpired.
func DownloadCerts(ctx context.Context, c kubernetes.Interface, keyHex, certDir string) ([]string, error) {
	// A typo in the key is reported before the cluster is asked anything.
	if err := certs.CheckCertificateKey(keyHex); err != nil {
		return nil, err
	}
	s, err := c.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, CertsSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s/%s not found: %w", metav1.NamespaceSystem, CertsSecret, ErrCertsExpired)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", metav1.NamespaceSystem, CertsSecret, err)
	}
	return certs.DecryptDownloaded(s.Data, keyHex, certDir)
}
