package cleanup

import (
	"context"
	"errors"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kubestrap/kubestrap/node"
)

// RemovePods stops and removes every pod sandbox (removing a sandbox
// removes its containers), then any container still listed, each call
// bounded by timeout. It returns the pods ("namespace/name") and
// containers it removed, or in a dry run would remove; a failure on one
// pod does not stop the others.
func RemovePods(ctx context.Context, rt node.Runtime, timeout time.Duration, dryRun bool) ([]string, error) {
	call := func(f func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return f(cctx)
	}
	var pods *runtimeapi.ListPodSandboxResponse
	err := call(func(ctx context.Context) (err error) {
		pods, err = rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list pod sandboxes: %w", err)
	}
	var removed []string
	var errs []error
	for _, p := range pods.Items {
		name := p.Id
		if m := p.Metadata; m != nil {
			name = m.Namespace + "/" + m.Name
		}
		if !dryRun {
			err := call(func(ctx context.Context) error {
				if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
					return fmt.Errorf("stop: %w", err)
				}
				_, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id})
				return err
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("pod %s: %w", name, err))
				continue
			}
		}
		removed = append(removed, "pod "+name)
	}
	if dryRun {
		return removed, errors.Join(errs...)
	}
	var ctrs *runtimeapi.ListContainersResponse
	err = call(func(ctx context.Context) (err error) {
		ctrs, err = rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
		return err
	})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("list containers: %w", err))...)
	}
	for _, c := range ctrs.Containers {
		name := c.Id
		if m := c.Metadata; m != nil {
			name = m.Name + " (" + c.Id + ")"
		}
		err := call(func(ctx context.Context) error {
			_, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id})
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", name, err))
			continue
		}
		removed = append(removed, "container "+name)
	}
	return removed, errors.Join(errs...)
}
