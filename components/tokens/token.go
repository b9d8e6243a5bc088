// Package tokens manages bootstrap tokens, their RBAC and the signed
// cluster-info ConfigMap that joining nodes discover the cluster from.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	"k8s.io/cluster-bootstrap/token/jws"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/join"
	"github.com/kubestrap/kubestrap/poll"
)

// Secret builds the Secret behind a bootstrap token. A TTL of 0 means
// the token never expires.
func Secret(t config.BootstrapToken, now time.Time) (*corev1.Secret, error) {
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

// ErrExists is returned when a token id is taken: a token's secret, TTL
// and groups are never replaced behind its holder's back (kubeadm refuses
// the same way).
var ErrExists = errors.New("a bootstrap token with this id already exists")

// Create stores a new bootstrap token and fails with ErrExists when its id
// is taken.
func Create(ctx context.Context, c kubernetes.Interface, t config.BootstrapToken, now time.Time) error {
	s, err := Secret(t, now)
	if err != nil {
		return err
	}
	id := string(s.Data[bootstrapapi.BootstrapTokenIDKey])
	_, err = c.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%w: %s (delete it first with `kubestrap token delete %s`, or create a token with another id)",
			ErrExists, id, id)
	}
	if err != nil {
		return err
	}
	exp := "never"
	if e, ok := s.Data[bootstrapapi.BootstrapTokenExpirationKey]; ok {
		exp = string(e)
	}
	return setTokenInfo(ctx, c, id, exp)
}

// Ensure makes init's token exist: created when absent, left alone when a
// token with the same secret is there (a re-run of init), refused when the
// id is taken by a different secret.
func Ensure(ctx context.Context, c kubernetes.Interface, t config.BootstrapToken, now time.Time) (existed bool, err error) {
	err = Create(ctx, c, t, now)
	if !errors.Is(err, ErrExists) {
		return false, err
	}
	id, secret, _ := strings.Cut(t.Token, ".")
	cur, gerr := c.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.GetOptions{})
	if gerr != nil {
		return false, gerr
	}
	if string(cur.Data[bootstrapapi.BootstrapTokenSecretKey]) != secret {
		return false, err
	}
	return true, nil
}

// FindByDescription returns an unexpired token whose description is desc:
// how init finds the token an earlier, interrupted run of it created, so a
// resumed init uses that one instead of leaving it behind as an orphan.
func FindByDescription(ctx context.Context, c kubernetes.Interface, desc string, now time.Time) (string, bool, error) {
	list, err := c.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{
		FieldSelector: "type=" + string(bootstrapapi.SecretTypeBootstrapToken)})
	if err != nil {
		return "", false, err
	}
	for _, s := range list.Items {
		if s.Type != bootstrapapi.SecretTypeBootstrapToken || string(s.Data[bootstrapapi.BootstrapTokenDescriptionKey]) != desc {
			continue
		}
		if exp := string(s.Data[bootstrapapi.BootstrapTokenExpirationKey]); exp != "" {
			t, err := time.Parse(time.RFC3339, exp)
			if err != nil || !t.After(now.Add(time.Minute)) {
				continue
			}
		}
		return string(s.Data[bootstrapapi.BootstrapTokenIDKey]) + "." + string(s.Data[bootstrapapi.BootstrapTokenSecretKey]), true, nil
	}
	return "", false, nil
}

// InfoConfigMap lists token ids and expiry times (never secrets) in
// kube-public, readable anonymously, so that a joining node can tell an
// expired token from an unknown one.
const InfoConfigMap = join.TokenInfoConfigMap

// setTokenInfo records (exp != "") or forgets (exp == "") a token id.
func setTokenInfo(ctx context.Context, c kubernetes.Interface, id, exp string) error {
	api := c.CoreV1().ConfigMaps(metav1.NamespacePublic)
	for {
		cm, err := api.Get(ctx, InfoConfigMap, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: InfoConfigMap, Namespace: metav1.NamespacePublic}}
			if exp == "" {
				return nil
			}
			cm.Data = map[string]string{id: exp}
			if _, err = api.Create(ctx, cm, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if exp == "" {
			delete(cm.Data, id)
		} else {
			cm.Data[id] = exp
		}
		if _, err = api.Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			return err
		}
	}
}

// Token is one row of `kubestrap token list`; the secret part is never listed.
type Token struct {
	ID          string   `json:"id"`
	Expires     string   `json:"expires,omitempty"`
	Usages      []string `json:"usages"`
	Groups      []string `json:"groups,omitempty"`
	Description string   `json:"description,omitempty"`
}

// List lists the bootstrap tokens.
func List(ctx context.Context, c kubernetes.Interface) ([]Token, error) {
	list, err := c.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{
		FieldSelector: "type=" + string(bootstrapapi.SecretTypeBootstrapToken)})
	if err != nil {
		return nil, err
	}
	out := []Token{}
	for _, s := range list.Items {
		t := Token{ID: string(s.Data[bootstrapapi.BootstrapTokenIDKey]), Expires: string(s.Data[bootstrapapi.BootstrapTokenExpirationKey]),
			Description: string(s.Data[bootstrapapi.BootstrapTokenDescriptionKey]), Usages: []string{}}
		for k, v := range s.Data {
			if u, ok := strings.CutPrefix(k, bootstrapapi.BootstrapTokenUsagePrefix); ok && string(v) == "true" {
				t.Usages = append(t.Usages, u)
			}
		}
		sort.Strings(t.Usages)
		if g := string(s.Data[bootstrapapi.BootstrapTokenExtraGroupsKey]); g != "" {
			t.Groups = strings.Split(g, ",")
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Delete deletes a token by id (or full token).
func Delete(ctx context.Context, c kubernetes.Interface, idOrToken string) error {
	id, _, _ := strings.Cut(idOrToken, ".")
	if !bootstraputil.IsValidBootstrapTokenID(id) {
		return fmt.Errorf("%q is not a token id (6 characters of [a-z0-9])", id)
	}
	err := c.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("no token %s", id)
	}
	if err != nil {
		return err
	}
	return setTokenInfo(ctx, c, id, "")
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
			ResourceNames: []string{bootstrapapi.ConfigMapClusterInfo, InfoConfigMap}, Verbs: []string{"get"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ClusterInfoRole, Namespace: metav1.NamespacePublic},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ClusterInfoRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "system:anonymous"}}}
	return apply.Concurrently(
		func() error { return updateClusterInfo(ctx, c, cm) },
		func() error { return apply.CreateOrUpdate(ctx, c.RbacV1().Roles(metav1.NamespacePublic), role) },
		func() error {
			return apply.CreateOrUpdate(ctx, c.RbacV1().RoleBindings(metav1.NamespacePublic), binding)
		},
	)
}

// updateClusterInfo keeps the signatures the bootstrapsigner added when the
// kubeconfig is unchanged, so a re-run does not force re-signing.
func updateClusterInfo(ctx context.Context, c kubernetes.Interface, cm *corev1.ConfigMap) error {
	api := c.CoreV1().ConfigMaps(metav1.NamespacePublic)
	old, err := api.Get(ctx, cm.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return apply.CreateOrUpdate(ctx, api, cm)
	}
	if err != nil {
		return err
	}
	if old.Data[bootstrapapi.KubeConfigKey] == cm.Data[bootstrapapi.KubeConfigKey] {
		return nil
	}
	return apply.CreateOrUpdate(ctx, api, cm)
}

// SignClusterInfo adds the JWS signature of each signing token to
// cluster-info, the detached HS256 signature the controller manager's
// bootstrapsigner computes over the same content: the signer then finds it
// already correct, and init need not wait for the controller to run.
func SignClusterInfo(ctx context.Context, c kubernetes.Interface, toks []config.BootstrapToken) error {
	api := c.CoreV1().ConfigMaps(metav1.NamespacePublic)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := api.Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		for _, t := range toks {
			if !slices.Contains(t.Usages, "signing") {
				continue // the signer would remove a signature it does not make
			}
			id, secret, _ := strings.Cut(t.Token, ".")
			sig, err := jws.ComputeDetachedSignature(cm.Data[bootstrapapi.KubeConfigKey], id, secret)
			if err != nil {
				return err
			}
			if key := bootstrapapi.JWSSignatureKeyPrefix + id; cm.Data[key] != sig {
				cm.Data[key], changed = sig, true
			}
		}
		if !changed {
			return nil
		}
		_, err = api.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
}

// WaitSigned waits until cluster-info carries the signature for tokenID.
func WaitSigned(ctx context.Context, c kubernetes.Interface, tokenID string, s poll.Spec) error {
	key := bootstrapapi.JWSSignatureKeyPrefix + tokenID
	s.What = "the bootstrapsigner controller to sign cluster-info (" + key + ")"
	return poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		cm, err := c.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
		return err == nil && cm.Data[key] != "", err
	})
}
