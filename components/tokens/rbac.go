package tokens

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/config"
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
	)
}
