// Package apply holds the small API helpers the other components share:
// create-or-update, create-if-absent, applying decoded manifests, retrying
// on conflicts and running independent calls concurrently.
package apply

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/parallel"
)

// api is the slice of a typed client-go resource interface that
// CreateOrUpdate needs; every typed client satisfies it.
type api[T metav1.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// CreateOrUpdate makes the object exist as given: created, or updated over
// what is there. Re-running init converges instead of failing.
func CreateOrUpdate[T metav1.Object](ctx context.Context, c api[T], obj T) error {
	_, cerr := c.Create(ctx, obj, metav1.CreateOptions{})
	if cerr == nil {
		return nil
	}
	// An existing Service with a fixed clusterIP fails its create on the
	// IP ("already allocated") before the name: look for it either way.
	existing, err := c.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return wrap(obj, cerr)
		}
		return wrap(obj, err)
	}
	obj.SetResourceVersion(existing.GetResourceVersion())
	_, err = c.Update(ctx, obj, metav1.UpdateOptions{})
	return wrap(obj, err)
}

// CreateIfAbsent creates the object, leaving an existing one alone (for
// objects that must never be replaced, such as a bootstrap token).
func CreateIfAbsent[T metav1.Object](ctx context.Context, c api[T], obj T) error {
	_, err := c.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return wrap(obj, err)
}

func wrap(obj metav1.Object, err error) error {
	if err == nil {
		return nil
	}
	ns := obj.GetNamespace()
	if ns != "" {
		ns += "/"
	}
	return fmt.Errorf("%s%s: %w", ns, obj.GetName(), err)
}

// Concurrently runs independent API calls at once and joins their errors.
func Concurrently(fns ...func() error) error {
	return parallel.Do(len(fns), func(i int) error { return fns[i]() })
}
