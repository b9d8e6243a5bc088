package controlplane

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/components/apply"
)

// UserRoles are the ClusterRoles `kubeconfig user --clusterrole` binds:
// Kubernetes' user-facing roles.
var UserRoles = []string{"view", "edit", "admin"}

// CheckUserRole refuses a role kubestrap does not hand out.
func CheckUserRole(role string) error {
	if role != "" && !slices.Contains(UserRoles, role) {
		return fmt.Errorf("--clusterrole %q: use view, edit or admin (or bind another role yourself with kubectl)", role)
	}
	return nil
}

// BindUser gives user the ClusterRole role: in namespace through a
// RoleBinding (the namespace is created if absent), or cluster-wide
// through a ClusterRoleBinding when namespace is "". The binding's name
// carries the role, since a binding's role cannot change; a re-run
// converges. It returns the binding's kind/name.
func BindUser(ctx context.Context, c kubernetes.Interface, user, role, namespace string) (string, error) {
	if err := CheckUserRole(role); err != nil {
		return "", err
	}
	name := "kubestrap:user:" + user + ":" + role
	subject := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}
	if namespace == "" {
		b := apply.ClusterRoleBinding(name, role, subject)
		return "ClusterRoleBinding/" + name, apply.CreateOrUpdate(ctx, c.RbacV1().ClusterRoleBindings(), b)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := apply.CreateIfAbsent(ctx, c.CoreV1().Namespaces(), ns); err != nil {
		return "", err
	}
	b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{subject}}
	return "RoleBinding/" + namespace + "/" + name, apply.CreateOrUpdate(ctx, c.RbacV1().RoleBindings(namespace), b)
}
