package components

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
)

// TokenSecret builds the Secret behind a bootstrap token. A TTL of 0 means
// the token never expires.
func TokenSecret(t config.BootstrapToken, now time.Time) (*corev1.Secret, error) {
	id, secret, ok := strings.Cut(t.Token, ".")
	if !ok || !bootstraputil.IsValidBootstrapToken(t.Token) {
		return nil, fmt.Errorf("malformed bootstrap token")
	}
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:     []byte(id),
		bootstrapapi.BootstrapTokenSecretKey: []byte(secret),
	}
	if t.Description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(t.Description)
	}
	if t.TTL != nil && t.TTL.Duration > 0 {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(now.Add(t.TTL.Duration).UTC().Format(time.RFC3339))
	}
	for _, u := range t.Usages {
		data[bootstrapapi.BootstrapTokenUsagePrefix+u] = []byte("true")
	}
	if len(t.Groups) > 0 {
		data[bootstrapapi.BootstrapTokenExtraGroupsKey] = []byte(strings.Join(t.Groups, ","))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data:       data,
	}, nil
}

// CreateToken stores a bootstrap token; an existing token of the same id
// is updated (its TTL restarts), as `kubeadm token create` does.
func CreateToken(ctx context.Context, c kubernetes.Interface, t config.BootstrapToken, now time.Time) error {
	s, err := TokenSecret(t, now)
	if err != nil {
		return err
	}
	return CreateOrUpdate(ctx, c.CoreV1().Secrets(metav1.NamespaceSystem), s)
}

// ClusterInfo publishes the cluster's CA and endpoint in kube-public for
// anonymous reading; the controller manager's bootstrapsigner then adds a
// JWS signature per token, which joining nodes verify.
func ClusterInfo(ctx context.Context, c kubernetes.Interface, server string, caPEM []byte) error {
	kc, err := clientcmd.Write(*certs.NewKubeconfig("", server, "", caPEM, nil, nil))
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.ConfigMapClusterInfo, Namespace: metav1.NamespacePublic},
		Data:       map[string]string{bootstrapapi.KubeConfigKey: string(kc)},
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: ClusterInfoRole, Namespace: metav1.NamespacePublic},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
			ResourceNames: []string{bootstrapapi.ConfigMapClusterInfo}, Verbs: []string{"get"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ClusterInfoRole, Namespace: metav1.NamespacePublic},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ClusterInfoRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "system:anonymous"}}}
	return Concurrently(
		func() error { return updateClusterInfo(ctx, c, cm) },
		func() error { return CreateOrUpdate(ctx, c.RbacV1().Roles(metav1.NamespacePublic), role) },
		func() error { return CreateOrUpdate(ctx, c.RbacV1().RoleBindings(metav1.NamespacePublic), binding) },
	)
}

// updateClusterInfo keeps the signatures the bootstrapsigner added when the
// kubeconfig is unchanged, so a re-run does not force re-signing.
func updateClusterInfo(ctx context.Context, c kubernetes.Interface, cm *corev1.ConfigMap) error {
	api := c.CoreV1().ConfigMaps(metav1.NamespacePublic)
	old, err := api.Get(ctx, cm.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return CreateOrUpdate(ctx, api, cm)
	}
	if err != nil {
		return err
	}
	if old.Data[bootstrapapi.KubeConfigKey] == cm.Data[bootstrapapi.KubeConfigKey] {
		return nil
	}
	return CreateOrUpdate(ctx, api, cm)
}

// WaitSigned waits until cluster-info carries the signature for tokenID.
func WaitSigned(ctx context.Context, c kubernetes.Interface, tokenID string, interval time.Duration) error {
	key := bootstrapapi.JWSSignatureKeyPrefix + tokenID
	for {
		cm, err := c.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
		if err == nil && cm.Data[key] != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster-info has no %s yet: is kube-controller-manager running with the bootstrapsigner "+
				"controller? (%w)", key, ctx.Err())
		case <-time.After(interval):
		}
	}
}
