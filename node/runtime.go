package node

import (
	"context"
	"fmt"
	"io"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Runtime is the part of the CRI runtime service a reset uses;
// runtimeapi.RuntimeServiceClient has it, tests fake it.
type Runtime interface {
	ListPodSandbox(ctx context.Context, in *runtimeapi.ListPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error)
	StopPodSandbox(ctx context.Context, in *runtimeapi.StopPodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.StopPodSandboxResponse, error)
	RemovePodSandbox(ctx context.Context, in *runtimeapi.RemovePodSandboxRequest, opts ...grpc.CallOption) (*runtimeapi.RemovePodSandboxResponse, error)
	ListContainers(ctx context.Context, in *runtimeapi.ListContainersRequest, opts ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error)
	RemoveContainer(ctx context.Context, in *runtimeapi.RemoveContainerRequest, opts ...grpc.CallOption) (*runtimeapi.RemoveContainerResponse, error)
}

var _ Runtime = runtimeapi.RuntimeServiceClient(nil)

// DialCRI connects to the runtime's CRI endpoint (unix:///...); the caller
// closes the returned closer. Nothing is sent until the first call.
func DialCRI(endpoint string) (Runtime, io.Closer, error) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("CRI endpoint %s: %w", endpoint, err)
	}
	return runtimeapi.NewRuntimeServiceClient(conn), conn, nil
}

// MissingImages returns the references among refs that the runtime at
// endpoint does not have.
func MissingImages(ctx context.Context, endpoint string, refs []string) ([]string, error) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("CRI endpoint %s: %w", endpoint, err)
	}
	defer func() { _ = conn.Close() }()
	is := runtimeapi.NewImageServiceClient(conn)
	var missing []string
	for _, r := range refs {
		st, err := is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: r}})
		if err != nil {
			return nil, fmt.Errorf("ask the runtime at %s for %s: %w", endpoint, r, err)
		}
		if st.Image == nil {
			missing = append(missing, r)
		}
	}
	return missing, nil
}
