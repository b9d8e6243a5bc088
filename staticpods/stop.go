package staticpods

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
)

// ParkDirName is the one place, under /etc/kubernetes, where manifests
// wait while a day-2 operation (restore) has stopped their static pods. One
// fixed place plus a journal: a run killed while pods are stopped leaves a
// park the next run finds, instead of a random temp dir nothing looks for.
const ParkDirName = "kubestrap-parked"

// journalName is the park's journal, written before any manifest moves.
const journalName = "journal.json"

// Journal says who parked the manifests and how far it got, so that the
// next run can finish or roll back a killed one. Data holds the
// operation's own facts (a restore's data dirs).
type Journal struct {
	Operation   string            `json:"operation"`
	Started     time.Time         `json:"started"`
	Step        string            `json:"step"`
	ManifestDir string            `json:"manifestDir"`
	Components  []string          `json:"components"`
	Data        map[string]string `json:"data,omitempty"`
}

// Parked is a set of static pods whose manifests were moved out of the
// kubelet's manifest dir, which makes the kubelet stop them; Unpark puts
// them back and the kubelet starts them again.
type Parked struct {
	// ManifestDir is where the manifests belong; Dir is where they wait.
	ManifestDir, Dir string
	Components       []string
	Journal          Journal
}

// ParkExistsError says an earlier run's park is still there: it must be
// recovered (finished or rolled back) before anything parks again.
type ParkExistsError struct {
	Dir     string
	Journal Journal
}

func (e *ParkExistsError) Error() string {
	return fmt.Sprintf("%s holds manifests parked by a %s that did not finish (started %s, step %q): "+
		"its recovery must run first", e.Dir, e.Journal.Operation, e.Journal.Started.Format(time.RFC3339), e.Journal.Step)
}

// Park moves the manifests of components from manifestDir into parkDir,
// after writing j there. parkDir must be outside manifestDir (the kubelet
// reads every file there) and on the same file system, so each move is a
// rename: a manifest is always in exactly one of the two places. On an
// error the manifests already moved are put back. An existing journal is
// a *ParkExistsError: nothing moves.
func Park(manifestDir, parkDir string, j Journal, components ...string) (*Parked, error) {
	if old, err := ReadJournal(parkDir); err != nil || old != nil {
		if old != nil {
			return nil, &ParkExistsError{Dir: parkDir, Journal: *old}
		}
		return nil, err
	}
	if err := os.MkdirAll(parkDir, 0o700); err != nil {
		return nil, fmt.Errorf("make a directory for the parked manifests: %w", err)
	}
	j.ManifestDir, j.Components, j.Step = manifestDir, components, "parking"
	p := &Parked{ManifestDir: manifestDir, Dir: parkDir, Journal: j}
	if err := p.writeJournal(); err != nil {
		return nil, err
	}
	for _, c := range components {
		if err := os.Rename(ManifestPath(manifestDir, c), ManifestPath(parkDir, c)); err != nil {
			return nil, errors.Join(fmt.Errorf("move the %s manifest out of %s: %w", c, manifestDir, err), p.Unpark())
		}
		p.Components = append(p.Components, c)
	}
	return p, p.Note("parked", nil)
}

// Note records the operation's progress in the journal; data is merged.
func (p *Parked) Note(step string, data map[string]string) error {
	p.Journal.Step = step
	for k, v := range data {
		if p.Journal.Data == nil {
			p.Journal.Data = map[string]string{}
		}
		p.Journal.Data[k] = v
	}
	return p.writeJournal()
}

func (p *Parked) writeJournal() error {
	b, err := json.MarshalIndent(p.Journal, "", "  ")
	if err != nil {
		return err
	}
	return node.WriteFileAtomic(filepath.Join(p.Dir, journalName), append(b, '\n'), 0o600)
}

// ReadJournal returns the journal of a park in parkDir; nil, nil when
// there is none.
func ReadJournal(parkDir string) (*Journal, error) {
	b, err := os.ReadFile(filepath.Join(parkDir, journalName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	j := &Journal{}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("the park journal %s is unreadable: %w; put the manifests in %s back into %s by hand "+
			"and remove it", filepath.Join(parkDir, journalName), err, parkDir, "/etc/kubernetes/manifests")
	}
	return j, nil
}

// FindPark returns the park an earlier run left in parkDir, nil when none.
func FindPark(parkDir string) (*Parked, error) {
	j, err := ReadJournal(parkDir)
	if err != nil || j == nil {
		return nil, err
	}
	return &Parked{ManifestDir: j.ManifestDir, Dir: parkDir, Components: j.Components, Journal: *j}, nil
}

// Unpark moves the manifests back and removes the journal and the park
// dir; it is a no-op for manifests already back. The journal goes last:
// until every manifest is back, a next run must still find the park.
func (p *Parked) Unpark() error {
	var errs []error
	for _, c := range p.Components {
		err := os.Rename(ManifestPath(p.Dir, c), ManifestPath(p.ManifestDir, c))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("put the %s manifest back: move %s to %s by hand: %w",
				c, ManifestPath(p.Dir, c), p.ManifestDir, err))
		}
	}
	if len(errs) == 0 {
		// Journal first, then the dir with whatever a killed run left in
		// it (a journal update's temp file): it is kubestrap's own.
		if err := os.Remove(filepath.Join(p.Dir, journalName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return os.RemoveAll(p.Dir)
	}
	return errors.Join(errs...)
}

// ContainerLister is the part of the CRI runtime service that tells which
// containers run; runtimeapi.RuntimeServiceClient has it, tests fake it.
type ContainerLister interface {
	ListContainers(ctx context.Context, in *runtimeapi.ListContainersRequest, opts ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error)
}

var _ ContainerLister = runtimeapi.RuntimeServiceClient(nil)

// containerNameLabel is the label the kubelet puts on every container with
// its name in the pod spec.
const containerNameLabel = "io.kubernetes.container.name"

// WaitStopped waits until no container of components is running (or
// being created): only then has the kubelet really stopped them, and a
// data dir they use may change. Exited containers may stay until the
// kubelet's garbage collection; they hold nothing open.
func WaitStopped(ctx context.Context, rt ContainerLister, s poll.Spec, components ...string) error {
	s.What = strings.Join(components, " and ") + " containers to stop"
	return poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		running, err := runningContainers(ctx, rt, components)
		if err != nil {
			return false, fmt.Errorf("list containers through the CRI: %w", err)
		}
		if len(running) > 0 {
			return false, fmt.Errorf("still running: %s", strings.Join(running, ", "))
		}
		return true, nil
	})
}

// runningContainers filters on the client side: it is one call either way,
// and it does not depend on how a runtime implements label filters.
func runningContainers(ctx context.Context, rt ContainerLister, components []string) ([]string, error) {
	list, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, err
	}
	var running []string
	for _, c := range list.Containers {
		name := c.Labels[containerNameLabel]
		if name == "" && c.Metadata != nil {
			name = c.Metadata.Name
		}
		if slices.Contains(components, name) && c.State != runtimeapi.ContainerState_CONTAINER_EXITED {
			running = append(running, name+" ("+shortID(c.Id)+")")
		}
	}
	return running, nil
}

func shortID(id string) string { return id[:min(len(id), 13)] }

// ProbeConfig is the part of a node's configuration ControlPlaneProbes
// needs — the API server's address and port, the certificates dir — read
// from the API server's manifest, so that it also works on a control-plane
// node that joined (which has no recorded init configuration).
func ProbeConfig(manifestDir string) (*config.Init, error) {
	flags, err := ReadFlags(ManifestPath(manifestDir, KubeAPIServer), KubeAPIServer)
	if err != nil {
		return nil, fmt.Errorf("read the API server's address from its manifest: %w", err)
	}
	port, err := strconv.ParseInt(flags["secure-port"], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%s: --secure-port %q: %w", ManifestPath(manifestDir, KubeAPIServer), flags["secure-port"], err)
	}
	c := &config.Init{}
	c.LocalAPIEndpoint.AdvertiseAddress = flags["advertise-address"]
	c.LocalAPIEndpoint.BindPort = int32(port)
	c.Cluster.CertificatesDir = filepath.Dir(flags["client-ca-file"])
	return c, nil
}

// WaitHealthy waits until the named components of this node pass the
// probes init waits with (addresses from the manifests in manifestDir); on
// a timeout the error carries their last log lines from the CRI.
func WaitHealthy(ctx context.Context, manifestDir, criEndpoint string, out io.Writer, prefix string, components ...string) error {
	c, err := ProbeConfig(manifestDir)
	if err != nil {
		return err
	}
	probes, err := ControlPlaneProbes(c, c.Cluster.CertificatesDir)
	if err != nil {
		return err
	}
	probes = slices.DeleteFunc(probes, func(p Probe) bool { return !slices.Contains(components, p.Name) })
	w := &Waiter{Probes: probes, Interval: 500 * time.Millisecond, Out: out, Prefix: prefix,
		Logs: LogsFrom(criEndpoint)}
	return w.Wait(ctx)
}
