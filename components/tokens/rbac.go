package tokens

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
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

// IdentityRegistryRole lets joining hosts read the identity registry and
// nodes add their own entries to it.
const IdentityRegistryRole = "kubestrap:node-identities"

// identityRegistry creates the registry (once: its salt must never change)
// and its RBAC: tokens and nodes get it, nodes patch it; nobody but admins
// may list ConfigMaps or replace it.
func identityRegistry(ctx context.Context, c kubernetes.Interface) error {
	cm, err := join.NewRegistry()
	if err != nil {
		return err
	}
	if err := apply.CreateIfAbsent(ctx, c.CoreV1().ConfigMaps(metav1.NamespaceSystem), cm); err != nil {
		return err
	}
	ns := metav1.NamespaceSystem
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: IdentityRegistryRole, Namespace: ns},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}, ResourceNames: []string{join.IdentityRegistry}}}}
	writer := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: IdentityRegistryRole + "-writer", Namespace: ns},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"patch"}, ResourceNames: []string{join.IdentityRegistry}}}}
	bind := func(r *rbacv1.Role, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: ns},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name}, Subjects: subjects}
	}
	nodes := apply.Group("system:nodes")
	for _, r := range []*rbacv1.Role{role, writer} {
		if err := apply.CreateOrUpdate(ctx, c.RbacV1().Roles(ns), r); err != nil {
			return err
		}
	}
	if err := apply.CreateOrUpdate(ctx, c.RbacV1().RoleBindings(ns), bind(role, apply.Group(config.DefaultNodeTokenGroup), nodes)); err != nil {
		return err
	}
	return apply.CreateOrUpdate(ctx, c.RbacV1().RoleBindings(ns), bind(writer, nodes))
}
