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
	r := criRemover{rt: rt, timeout: timeout}
	var pods *runtimeapi.ListPodSandboxResponse
	err := r.call(ctx, func(ctx context.Context) (err error) {
		pods, err = r.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list pod sandboxes: %w", err)
	}
	removed, errs := r.removePods(ctx, pods.Items, dryRun)
	if dryRun {
		return removed, errors.Join(errs...)
	}
	ctrs, cerrs := r.removeContainers(ctx)
	return append(removed, ctrs...), errors.Join(append(errs, cerrs...)...)
}

// criRemover makes the CRI calls of RemovePods, each bounded by timeout.
type criRemover struct {
	rt      node.Runtime
	timeout time.Duration
}

func (r criRemover) call(ctx context.Context, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return f(cctx)
}

// removePods stops and removes the pod sandboxes; a failure on one pod
// does not stop the others.
func (r criRemover) removePods(ctx context.Context, pods []*runtimeapi.PodSandbox, dryRun bool) ([]string, []error) {
	var removed []string
	var errs []error
	for _, p := range pods {
		name := p.Id
		if m := p.Metadata; m != nil {
			name = m.Namespace + "/" + m.Name
		}
		if !dryRun {
			if err := r.call(ctx, func(ctx context.Context) error { return r.removePod(ctx, p.Id) }); err != nil {
				errs = append(errs, fmt.Errorf("pod %s: %w", name, err))
				continue
			}
		}
		removed = append(removed, "pod "+name)
	}
	return removed, errs
}

func (r criRemover) removePod(ctx context.Context, id string) error {
	if _, err := r.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	_, err := r.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	return err
}

// removeContainers removes the containers still listed after the pods.
func (r criRemover) removeContainers(ctx context.Context) ([]string, []error) {
	var ctrs *runtimeapi.ListContainersResponse
	err := r.call(ctx, func(ctx context.Context) (err error) {
		ctrs, err = r.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
		return err
	})
	if err != nil {
		return nil, []error{fmt.Errorf("list containers: %w", err)}
	}
	var removed []string
	var errs []error
	for _, c := range ctrs.Containers {
		name := c.Id
		if m := c.Metadata; m != nil {
			name = m.Name + " (" + c.Id + ")"
		}
		err := r.call(ctx, func(ctx context.Context) error {
			_, err := r.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id})
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", name, err))
			continue
		}
		removed = append(removed, "container "+name)
	}
	return removed, errs
}
