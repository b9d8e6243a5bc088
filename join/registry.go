package join

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// IdentityRegistry is the ConfigMap in kube-system that lets a joining host
// be compared with every node without listing nodes: bootstrap tokens may
// only `get` it (and `get` a Node by name), so a token holder learns no
// node's name, address or id. Each key is a salted HMAC of one identity
// value (machine-id, product_uuid, a MAC hash); its value is the salted
// HMAC of the node name that holds it. The salt is per cluster, so the
// hashes mean nothing outside it.
const IdentityRegistry = "kubestrap-node-identities"

const saltKey = "salt"

// NewRegistry is the empty registry with a fresh salt (init creates it).
func NewRegistry() (*corev1.ConfigMap, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: IdentityRegistry, Namespace: metav1.NamespaceSystem},
		Data: map[string]string{saltKey: hex.EncodeToString(b)}}, nil
}

// RegistryEntries are this host's keys in the registry and the value each
// must hold for a node named name. what maps each key to what it stands for.
func RegistryEntries(salt, name string, id Identity) (entries, what map[string]string) {
	entries, what = map[string]string{}, map[string]string{}
	owner := mac(salt, "node:"+name)
	add := func(kind, label, value string) {
		k := kind + "-" + mac(salt, kind+":"+value)
		entries[k], what[k] = owner, label
	}
	add("machine-id", "machine-id ("+id.MachineID+")", id.MachineID)
	if id.ProductUUID != "" {
		add("product-uuid", "product_uuid ("+id.ProductUUID+")", id.ProductUUID)
	}
	for _, h := range id.MACHashes {
		add("mac", "MAC address (hash "+h+")", h)
	}
	return entries, what
}

func mac(salt, s string) string {
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// CheckRegistry refuses a host whose machine-id, product_uuid or a MAC is
// registered to a node of another name: a cloned VM.
func CheckRegistry(data map[string]string, name string, id Identity) error {
	entries, what := RegistryEntries(data[saltKey], name, id)
	for k, owner := range entries {
		if got, ok := data[k]; ok && got != owner {
			return &CollisionError{Node: "another node of this cluster", What: what[k], Value: "", Fix: cloneFix +
				" (`kubectl get nodes -o wide` and each node's .status.nodeInfo show which; if that node is gone for good, " +
				"remove the key " + k + " from kube-system/" + IdentityRegistry + ")"}
		}
	}
	return nil
}

// ReadRegistry gets the registry; ok is false on a cluster that has none
// (made by kubeadm, or by an older kubestrap). Under kubeadm's RBAC a token
// or node may not read a ConfigMap kubeadm does not know: Forbidden is
// "none" too, and the caller warns that clones go undetected.
func ReadRegistry(ctx context.Context, c kubernetes.Interface) (map[string]string, bool, error) {
	cm, err := c.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, IdentityRegistry, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read kube-system/%s: %w", IdentityRegistry, err)
	}
	return cm.Data, true, nil
}

// Register records this host's identity under its node name, with a merge
// patch that only adds keys: nodes may patch the registry, never replace it.
func Register(ctx context.Context, c kubernetes.Interface, name string, id Identity) error {
	data, ok, err := ReadRegistry(ctx, c)
	if err != nil || !ok {
		return err
	}
	entries, _ := RegistryEntries(data[saltKey], name, id)
	patch, err := json.Marshal(map[string]any{"data": entries})
	if err != nil {
		return err
	}
	_, err = c.CoreV1().ConfigMaps(metav1.NamespaceSystem).Patch(ctx, IdentityRegistry, types.MergePatchType, patch,
		metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("record this node's identity in kube-system/%s: %w", IdentityRegistry, err)
	}
	return nil
}

// Unregister removes the registry's entries of the node named name with a
// merge patch that deletes only those keys, so that the host may join again
// under another name after a reset without being taken for a clone of
// itself. It returns how many entries it removed.
func Unregister(ctx context.Context, c kubernetes.Interface, name string) (int, error) {
	data, ok, err := ReadRegistry(ctx, c)
	if err != nil || !ok {
		return 0, err
	}
	owner := mac(data[saltKey], "node:"+name)
	drop := map[string]any{}
	for k, v := range data {
		if k != saltKey && v == owner {
			drop[k] = nil
		}
	}
	if len(drop) == 0 {
		return 0, nil
	}
	patch, err := json.Marshal(map[string]any{"data": drop})
	if err != nil {
		return 0, err
	}
	_, err = c.CoreV1().ConfigMaps(metav1.NamespaceSystem).Patch(ctx, IdentityRegistry, types.MergePatchType, patch,
		metav1.PatchOptions{})
	if err != nil {
		return 0, fmt.Errorf("remove node %s from kube-system/%s: %w", name, IdentityRegistry, err)
	}
	return len(drop), nil
}
