package components

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
)

// Names of the RBAC objects init creates.
const (
	ClusterAdminsBinding    = "kubestrap:cluster-admins"
	NodeBootstrapperBinding = "kubestrap:kubelet-bootstrap"
	NodeAutoApproveBinding  = "kubestrap:node-autoapprove-bootstrap"
	NodeRenewalBinding      = "kubestrap:node-autoapprove-certificate-rotation"
	GetNodesRole            = "kubestrap:get-nodes"
	ClusterInfoRole         = "kubestrap:bootstrap-signer-clusterinfo"
)

func clusterRoleBinding(name, role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

// EnsureClusterAdmins binds admin.conf's group to cluster-admin. It must
// run with super-admin.conf (system:masters): until it exists, admin.conf
// has no rights at all.
func EnsureClusterAdmins(ctx context.Context, superAdmin kubernetes.Interface) error {
	return CreateOrUpdate(ctx, superAdmin.RbacV1().ClusterRoleBindings(),
		clusterRoleBinding(ClusterAdminsBinding, "cluster-admin", group(certs.AdminGroup)))
}

// BootstrapRBAC lets bootstrap tokens of the node group create CSRs and
// have them approved, lets nodes renew their client certificates, and lets
// joining nodes read Nodes (identity checks). It is the smallest set that
// makes TLS bootstrap work.
func BootstrapRBAC(ctx context.Context, c kubernetes.Interface) error {
	tokens := group(config.DefaultNodeTokenGroup)
	crbs := c.RbacV1().ClusterRoleBindings()
	getNodes := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: GetNodesRole},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list"}}}}
	return Concurrently(
		func() error {
			return CreateOrUpdate(ctx, crbs, clusterRoleBinding(NodeBootstrapperBinding, "system:node-bootstrapper", tokens))
		},
		func() error {
			return CreateOrUpdate(ctx, crbs, clusterRoleBinding(NodeAutoApproveBinding,
				"system:certificates.k8s.io:certificatesigningrequests:nodeclient", tokens))
		},
		func() error {
			return CreateOrUpdate(ctx, crbs, clusterRoleBinding(NodeRenewalBinding,
				"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", group("system:nodes")))
		},
		func() error {
			if err := CreateOrUpdate(ctx, c.RbacV1().ClusterRoles(), getNodes); err != nil {
				return err
			}
			return CreateOrUpdate(ctx, crbs, clusterRoleBinding(GetNodesRole, GetNodesRole, tokens))
		},
	)
}
