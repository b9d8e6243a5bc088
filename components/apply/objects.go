package apply

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
)

// DecodeObjects decodes a multi-document manifest into typed objects.
func DecodeObjects(manifest []byte) ([]runtime.Object, error) {
	var out []runtime.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode manifest: %w", err)
		}
		out = append(out, obj)
	}
}

// Objects creates or updates objects: namespaces first, then the rest
// concurrently (they do not depend on each other for creation).
func Objects(ctx context.Context, c kubernetes.Interface, objs []runtime.Object) error {
	var rest []func() error
	for _, o := range objs {
		if ns, ok := o.(*corev1.Namespace); ok {
			if err := CreateOrUpdate(ctx, c.CoreV1().Namespaces(), ns); err != nil {
				return err
			}
			continue
		}
		rest = append(rest, func() error { return applyOne(ctx, c, o) })
	}
	return Concurrently(rest...)
}

func applyOne(ctx context.Context, c kubernetes.Interface, o runtime.Object) error {
	switch o := o.(type) {
	case *corev1.ServiceAccount:
		return CreateOrUpdate(ctx, c.CoreV1().ServiceAccounts(o.Namespace), o)
	case *corev1.ConfigMap:
		return CreateOrUpdate(ctx, c.CoreV1().ConfigMaps(o.Namespace), o)
	case *corev1.Service:
		return CreateOrUpdate(ctx, c.CoreV1().Services(o.Namespace), o)
	case *rbacv1.ClusterRole:
		return CreateOrUpdate(ctx, c.RbacV1().ClusterRoles(), o)
	case *rbacv1.ClusterRoleBinding:
		return CreateOrUpdate(ctx, c.RbacV1().ClusterRoleBindings(), o)
	case *rbacv1.Role:
		return CreateOrUpdate(ctx, c.RbacV1().Roles(o.Namespace), o)
	case *rbacv1.RoleBinding:
		return CreateOrUpdate(ctx, c.RbacV1().RoleBindings(o.Namespace), o)
	case *appsv1.Deployment:
		return CreateOrUpdate(ctx, c.AppsV1().Deployments(o.Namespace), o)
	case *appsv1.DaemonSet:
		return CreateOrUpdate(ctx, c.AppsV1().DaemonSets(o.Namespace), o)
	}
	return fmt.Errorf("addon object of unsupported type %T", o)
}
