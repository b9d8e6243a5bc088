package tokens

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/join"
)

// Names of the RBAC objects init creates.
const (
	NodeBootstrapperBinding = "kubestrap:kubelet-bootstrap"
	NodeAutoApproveBinding  = "kubestrap:node-autoapprove-bootstrap"
	NodeRenewalBinding      = "kubestrap:node-autoapprove-certificate-rotation"
	GetNodesRole            = "kubestrap:get-nodes"
	ClusterInfoRole         = "kubestrap:bootstrap-signer-clusterinfo"
)

// BootstrapRBAC lets bootstrap tokens of the node group create CSRs and
// have them approved, lets nodes renew their client certificates, and lets
// joining nodes get (never list) a Node by name: the name check before TLS
// bootstrap. A token holder cannot enumerate nodes; the clone checks that
// need every node run later with the node's own credentials. It is the
// smallest set that makes TLS bootstrap work, and kubeadm's grant too.
func BootstrapRBAC(ctx context.Context, c kubernetes.Interface) error {
	tokens := apply.Group(config.DefaultNodeTokenGroup)
	crbs := c.RbacV1().ClusterRoleBindings()
	getNodes := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: GetNodesRole},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}}}}
	return apply.Concurrently(
		func() error {
			return apply.CreateOrUpdate(ctx, crbs, apply.ClusterRoleBinding(NodeBootstrapperBinding, "system:node-bootstrapper", tokens))
		},
		func() error {
			return apply.CreateOrUpdate(ctx, crbs, apply.ClusterRoleBinding(NodeAutoApproveBinding,
				"system:certificates.k8s.io:certificatesigningrequests:nodeclient", tokens))
		},
		func() error {
			return apply.CreateOrUpdate(ctx, crbs, apply.ClusterRoleBinding(NodeRenewalBinding,
				"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", apply.Group("system:nodes")))
		},
		func() error {
			if err := apply.CreateOrUpdate(ctx, c.RbacV1().ClusterRoles(), getNodes); err != nil {
				return err
			}
			return apply.CreateOrUpdate(ctx, crbs, apply.ClusterRoleBinding(GetNodesRole, GetNodesRole, tokens))
		},
		func() error { return identityRegistry(ctx, c) },
	)
}

// IdentityRegistryRole lets joining hosts and nodes read the identity
// registry (its salt), and create and read claims.
const IdentityRegistryRole = "kubestrap:node-identities"

// identityRegistry creates the registry (once: its salt must never change),
// the claim namespace and their RBAC: tokens and nodes get the registry,
// and create and get claims. Nobody but admins may list, change or delete
// either, so no node can rewrite another's claim or the salt.
func identityRegistry(ctx context.Context, c kubernetes.Interface) error {
	cm, err := join.NewRegistry()
	if err != nil {
		return err
	}
	if err := apply.CreateIfAbsent(ctx, c.CoreV1().ConfigMaps(metav1.NamespaceSystem), cm); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: join.ClaimNamespace}}
	if err := apply.CreateIfAbsent(ctx, c.CoreV1().Namespaces(), ns); err != nil {
		return err
	}
	joiners := []rbacv1.Subject{apply.Group(config.DefaultNodeTokenGroup), apply.Group("system:nodes")}
	reader := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: IdentityRegistryRole, Namespace: metav1.NamespaceSystem},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"},
			ResourceNames: []string{join.IdentityRegistry}}}}
	claimer := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: IdentityRegistryRole, Namespace: join.ClaimNamespace},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"create", "get"}}}}
	for _, r := range []*rbacv1.Role{reader, claimer} {
		if err := apply.CreateOrUpdate(ctx, c.RbacV1().Roles(r.Namespace), r); err != nil {
			return err
		}
		b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name}, Subjects: joiners}
		if err := apply.CreateOrUpdate(ctx, c.RbacV1().RoleBindings(r.Namespace), b); err != nil {
			return err
		}
	}
	// The writer role of older clusters let nodes patch the registry, and
	// so its salt: drop it.
	err = c.RbacV1().RoleBindings(metav1.NamespaceSystem).Delete(ctx, IdentityRegistryRole+"-writer", metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
