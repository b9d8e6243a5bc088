package join

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ClaimNamespace holds one ConfigMap per registered identity value (a
// claim), named by the value's salted HMAC and holding the HMAC of the
// node name that owns it. Joining hosts and nodes may only create and get
// claims there: creation is atomic, so of two clones joining at the same
// moment exactly one wins, and no node can rewrite another's claim. The
// salt stays in kube-system's registry, which they may only read.
const ClaimNamespace = "kubestrap-node-identities"

const ownerKey = "owner"

// ErrNoClaims says the cluster has no claim namespace (made by kubeadm or
// an older kubestrap): the caller falls back to the registry's entries.
var ErrNoClaims = errors.New("the cluster has no " + ClaimNamespace + " namespace")

// Claim registers each of this host's identity values for the node named
// name, at identity-check time, before anything is written on the host. A
// value already claimed for name is this host's own earlier join (a
// re-run); one claimed for another name is a clone: a *CollisionError, and
// nothing more is claimed.
func Claim(ctx context.Context, c kubernetes.Interface, salt, name string, id Identity) (int, error) {
	entries, what := RegistryEntries(salt, name, id)
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys) // machine-id first: the clearest message on a clone
	made := 0
	for _, k := range keys {
		created, err := claimOne(ctx, c, k, entries[k])
		if err != nil {
			if errors.Is(err, errClaimedByOther) {
				return made, &CollisionError{Node: "another node of this cluster", What: what[k], Fix: cloneFix +
					" (`kubectl get nodes -o wide` and each node's .status.nodeInfo show which; if that node is gone " +
					"for good, `kubectl -n " + ClaimNamespace + " delete configmap " + k + "`)"}
			}
			return made, err
		}
		if created {
			made++
		}
	}
	return made, nil
}

var errClaimedByOther = errors.New("claimed by another node")

func claimOne(ctx context.Context, c kubernetes.Interface, key, owner string) (bool, error) {
	cms := c.CoreV1().ConfigMaps(ClaimNamespace)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: key, Namespace: ClaimNamespace},
		Data: map[string]string{ownerKey: owner}}
	_, err := cms.Create(ctx, cm, metav1.CreateOptions{})
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, ErrNoClaims
	case !apierrors.IsAlreadyExists(err):
		return false, fmt.Errorf("claim this host's identity in namespace %s: %w", ClaimNamespace, err)
	}
	got, err := cms.Get(ctx, key, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("read identity claim %s/%s: %w", ClaimNamespace, key, err)
	}
	if got.Data[ownerKey] != owner {
		return false, errClaimedByOther
	}
	return false, nil
}

// Unclaim deletes the claims of this host's identity values that belong
// to the node named name (so that it may join again under another name).
// Only admins may delete claims: on a worker, whose kubeconfig is its own,
// the error says so and the caller reports the claims as left.
func Unclaim(ctx context.Context, c kubernetes.Interface, salt, name string, id Identity) (int, error) {
	entries, _ := RegistryEntries(salt, name, id)
	n := 0
	for k, owner := range entries {
		got, err := c.CoreV1().ConfigMaps(ClaimNamespace).Get(ctx, k, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return n, err
		}
		if got.Data[ownerKey] != owner {
			continue
		}
		if err := c.CoreV1().ConfigMaps(ClaimNamespace).Delete(ctx, k, metav1.DeleteOptions{}); err != nil &&
			!apierrors.IsNotFound(err) {
			return n, err
		}
		n++
	}
	return n, nil
}

// Salt is the registry's salt.
func Salt(data map[string]string) string { return data[saltKey] }

// Record claims this host's identity for name; on a cluster without the
// claim namespace it adds the entries to the registry as older clusters
// keep them (which needs a node's or an admin's credentials).
func Record(ctx context.Context, c kubernetes.Interface, name string, id Identity) error {
	data, ok, err := ReadRegistry(ctx, c)
	if err != nil || !ok {
		return err
	}
	_, err = Claim(ctx, c, Salt(data), name, id)
	if errors.Is(err, ErrNoClaims) {
		return Register(ctx, c, name, id)
	}
	return err
}
