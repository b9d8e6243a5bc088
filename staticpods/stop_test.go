package staticpods

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
)

func TestParkAndUnpark(t *testing.T) {
	kube := t.TempDir()
	manifests := filepath.Join(kube, "manifests")
	if err := os.MkdirAll(manifests, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{Etcd, KubeAPIServer, Scheduler} {
		if err := os.WriteFile(ManifestPath(manifests, c), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	park := filepath.Join(kube, ParkDirName)
	if _, err := Park(manifests, park, Journal{Operation: "restore"}, Etcd, KubeAPIServer); err != nil {
		t.Fatal(err)
	}
	// A killed run leaves the park and its journal; the next finds them,
	// and nothing parks over them.
	found, err := FindPark(park)
	if err != nil || found == nil || found.Journal.Operation != "restore" || found.Journal.Step != "parked" ||
		len(found.Components) != 2 || found.ManifestDir != manifests {
		t.Fatalf("FindPark = %+v, %v", found, err)
	}
	var exists *ParkExistsError
	if _, err := Park(manifests, park, Journal{Operation: "restore"}, Scheduler); !errors.As(err, &exists) {
		t.Fatalf("parked over a park: %v", err)
	}
	if _, err := os.Stat(ManifestPath(manifests, Scheduler)); err != nil {
		t.Errorf("a refused park moved a manifest: %v", err)
	}
	p := found
	// A run killed while it updated the journal leaves the update's temp file.
	if err := os.WriteFile(filepath.Join(park, ".journal.json.tmp-123"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(manifests)
	if len(left) != 1 || left[0].Name() != "kube-scheduler.yaml" {
		t.Errorf("left in the manifest dir: %v", left)
	}
	if err := p.Unpark(); err != nil {
		t.Fatal(err)
	}
	if back, _ := os.ReadDir(manifests); len(back) != 3 {
		t.Errorf("after unpark: %v", back)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Errorf("parking dir left: %v", err)
	}
	// A missing manifest fails the park and puts back what had moved.
	if err := os.Remove(ManifestPath(manifests, KubeAPIServer)); err != nil {
		t.Fatal(err)
	}
	if _, err := Park(manifests, park, Journal{}, Etcd, KubeAPIServer); err == nil || !strings.Contains(err.Error(), "kube-apiserver") {
		t.Fatalf("park without a manifest: %v", err)
	}
	if _, err := os.Stat(ManifestPath(manifests, Etcd)); err != nil {
		t.Errorf("etcd manifest not put back: %v", err)
	}
	if j, _ := ReadJournal(park); j != nil {
		t.Errorf("a failed park left its journal: %+v", j)
	}
}

type fakeContainers struct{ lists atomic.Int32 }

// ListContainers shows etcd running for two lists, then exited; other
// components keep running and must not hold the wait.
func (c *fakeContainers) ListContainers(context.Context, *runtimeapi.ListContainersRequest, ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	st := runtimeapi.ContainerState_CONTAINER_EXITED
	if c.lists.Add(1) <= 2 {
		st = runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	return &runtimeapi.ListContainersResponse{Containers: []*runtimeapi.Container{
		{Id: "1", State: st, Metadata: &runtimeapi.ContainerMetadata{Name: Etcd}},
		{Id: "2", State: runtimeapi.ContainerState_CONTAINER_RUNNING, Labels: map[string]string{containerNameLabel: Scheduler}},
	}}, nil
}

func TestWaitStoppedWaitsForTheNamedContainersOnly(t *testing.T) {
	c := &fakeContainers{}
	s := poll.Spec{Interval: time.Millisecond, Timeout: 5 * time.Second}
	if err := WaitStopped(context.Background(), c, s, Etcd, KubeAPIServer); err != nil {
		t.Fatal(err)
	}
	if c.lists.Load() != 3 {
		t.Errorf("listed %d times, want 3", c.lists.Load())
	}
	s.Timeout = 20 * time.Millisecond
	err := WaitStopped(context.Background(), c, s, Scheduler)
	if err == nil || !strings.Contains(err.Error(), "still running: kube-scheduler") {
		t.Errorf("timeout: %v", err)
	}
}

func TestProbeConfigFromManifest(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(t, nil)
	pods, err := All(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Write(dir, pods[1]); err != nil {
		t.Fatal(err)
	}
	got, err := ProbeConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.LocalAPIEndpoint != c.LocalAPIEndpoint || got.Cluster.CertificatesDir != c.Cluster.CertificatesDir {
		t.Errorf("got %+v / %s, want %+v / %s", got.LocalAPIEndpoint, got.Cluster.CertificatesDir, c.LocalAPIEndpoint,
			c.Cluster.CertificatesDir)
	}
}

func TestReadLocalEtcdFromManifest(t *testing.T) {
	le, err := ReadLocalEtcd("testdata/etcd.yaml", node.Root(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if le.Name != "cp-1" || le.PeerURL != "https://192.168.56.10:2380" || le.InitialCluster != "cp-1=https://192.168.56.10:2380" ||
		le.DataDir != "/var/lib/etcd" || le.Endpoints[0] != "https://192.168.56.10:2379" {
		t.Errorf("got %+v", le)
	}
	// Without healthcheck-client (a kubeadm node), the API server's etcd client certificate.
	if le.TLS.Cert != "/etc/kubernetes/pki/apiserver-etcd-client.crt" {
		t.Errorf("TLS = %+v", le.TLS)
	}
	if le, err := ReadLocalEtcd("testdata/none.yaml", ""); le != nil || err != nil {
		t.Errorf("no manifest: %+v, %v", le, err)
	}
}
