package staticpods

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/poll"
)

// Upgrade moves one static pod of this node to a new image (and flags):
// the manifest the kubelet runs now is kept in BackupDir while the new one
// is tried; when the new pod is not healthy in time the kept manifest is
// put back and waited for, so a bad step leaves the component as it was.
type Upgrade struct {
	ManifestDir, BackupDir string
	Component              string
	Image                  string
	// Args are flags set on the container (added, or replacing the same
	// name), e.g. the cluster's extraArgs.
	Args        []config.Arg
	CRIEndpoint string
	// Timeout bounds the wait for the new pod, and again for a rollback.
	Timeout time.Duration
	Out     io.Writer
	Prefix  string
	DryRun  bool
	// Mirrored, when set, says whether the API shows the pod the manifest
	// now holds (the kubelet's mirror pod): waited for once the pod is
	// healthy, so that `kubectl get pods` agrees before the next step.
	Mirrored func(ctx context.Context, want *corev1.Pod) (bool, error)
}

// UpgradeResult says what an Upgrade did.
type UpgradeResult struct {
	Changed  bool
	From, To string
}

// ErrRolledBack marks a step that failed and was undone.
var ErrRolledBack = errors.New("rolled back")

// Run does the upgrade. A run killed after the new manifest was written
// finds its backup on the next run: the component is then waited for, and
// rolled back if it is not healthy.
func (u Upgrade) Run(ctx context.Context) (UpgradeResult, error) {
	path := ManifestPath(u.ManifestDir, u.Component)
	backup := filepath.Join(u.BackupDir, u.Component+".yaml")
	cur, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && node.Exists(backup) {
		// Killed between taking the old manifest away and writing the new
		// one: carry on from the kept one.
		cur, err = os.ReadFile(backup)
	}
	if err != nil {
		return UpgradeResult{}, fmt.Errorf("read %s: %w", path, err)
	}
	var curPod corev1.Pod
	if err := yaml.Unmarshal(cur, &curPod); err != nil {
		return UpgradeResult{}, fmt.Errorf("%s: %w", path, err)
	}
	next, err := Marshal(Upgraded(&curPod, u.Image, u.Args))
	if err != nil {
		return UpgradeResult{}, err
	}
	res := UpgradeResult{From: ContainerImage(&curPod), To: u.Image}
	onDisk, _ := os.ReadFile(path)
	if bytes.Equal(onDisk, next) && !node.Exists(backup) {
		return res, nil
	}
	res.Changed = true
	if u.DryRun {
		return res, nil
	}
	if !bytes.Equal(onDisk, next) && node.Exists(path) {
		if err := node.WriteFileAtomic(backup, cur, ManifestMode); err != nil {
			return res, fmt.Errorf("keep the previous %s manifest: %w", u.Component, err)
		}
	}
	return res, u.tryOrRollBack(ctx, path, backup, onDisk, next)
}

// tryOrRollBack puts next in place (when it is not there already), waits
// for it, and on failure restores the kept manifest.
func (u Upgrade) tryOrRollBack(ctx context.Context, path, backup string, onDisk, next []byte) error {
	since := time.Now()
	if !bytes.Equal(onDisk, next) {
		var err error
		if since, err = u.replace(ctx, path, next); err != nil {
			return err
		}
	} else if st, err := os.Stat(path); err == nil {
		since = st.ModTime() // a resumed run: the new manifest was written then
	}
	werr := u.wait(ctx, since)
	if werr == nil {
		if err := u.waitMirrored(ctx, next); err != nil {
			// Healthy, so nothing is rolled back: the kept manifest stays
			// and the next run waits again.
			return err
		}
		// Done: the kept manifest stays beside, as .prev, for the admin.
		return os.Rename(backup, backup+".prev")
	}
	if ctx.Err() != nil {
		return werr // interrupted: the next run resumes from the backup
	}
	return u.rollBack(ctx, path, backup, werr)
}

// replace swaps the manifest: the old one is taken away first and its
// containers waited out, then the new one is written. Changed in place,
// the kubelet holds the new pod back until its resync (10-15 s) after the
// old one is gone; this way it starts it as soon as it sees it. The kept
// copy in BackupDir is what a run killed in between resumes from.
func (u Upgrade) replace(ctx context.Context, path string, data []byte) (time.Time, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, err
	}
	err := withRuntime(u.CRIEndpoint, func(rt runtimeapi.RuntimeServiceClient) error {
		return WaitStopped(ctx, rt, poll.Spec{Interval: 200 * time.Millisecond, Timeout: u.Timeout, Out: u.Out,
			Prefix: u.Prefix}, u.Component)
	})
	since := time.Now()
	if werr := node.WriteFileAtomic(path, data, ManifestMode); werr != nil {
		return since, werr
	}
	return since, err
}

func (u Upgrade) rollBack(ctx context.Context, path, backup string, cause error) error {
	old, err := os.ReadFile(backup)
	if err != nil {
		return fmt.Errorf("%s is not healthy at %s and its previous manifest cannot be read: %w (cause: %v)",
			u.Component, u.Image, err, cause)
	}
	fmt.Fprintf(u.Out, "[%s] %s is not healthy at %s: putting its previous manifest back\n", u.Prefix, u.Component, u.Image)
	since, err := u.replace(ctx, path, old)
	if err != nil {
		return fmt.Errorf("restore %s: %w (cause: %v)", path, err, cause)
	}
	if err := u.wait(ctx, since); err != nil {
		return fmt.Errorf("%s: %w at %s; the previous manifest is back in %s but not healthy yet: %v",
			u.Component, cause, u.Image, path, err)
	}
	_ = os.Remove(backup)
	return fmt.Errorf("%w: %s did not become healthy at %s: %v\nits previous manifest is back and healthy; "+
		"the cluster still runs the old version of %s", ErrRolledBack, u.Component, u.Image, cause, u.Component)
}

// wait waits for a container of the component created at or after since to
// run and pass its health check. A new container that exits again and
// again fails the wait early, with its last log lines.
func (u Upgrade) wait(ctx context.Context, since time.Time) error {
	c, err := ProbeConfig(u.ManifestDir)
	if err != nil {
		return err
	}
	probes, err := ControlPlaneProbes(c, c.Cluster.CertificatesDir)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(probes, func(p Probe) bool { return p.Name == u.Component })
	if i < 0 {
		return fmt.Errorf("no health check for %s", u.Component)
	}
	s := poll.Spec{What: u.Component + " to run its new pod and be healthy", Interval: 500 * time.Millisecond,
		Timeout: u.Timeout, Out: u.Out, Prefix: u.Prefix}
	err = poll.Until(ctx, s, func(ctx context.Context) (bool, error) {
		if exited := u.exitedSince(ctx, since); exited >= 2 {
			return false, poll.Permanent(fmt.Errorf("its new container exited %d times", exited))
		}
		if err := StartedSince(ctx, u.CRIEndpoint, u.Component, since); err != nil {
			return false, err
		}
		err := probes[i].Check(ctx)
		return err == nil, err
	})
	if err != nil {
		if logs := LogsFrom(u.CRIEndpoint)(u.Component); logs != "" {
			err = fmt.Errorf("%w\n  last log lines of %s:\n%s", err, u.Component, indent(logs, "    "))
		}
	}
	return err
}

// waitMirrored waits for the API to show the pod the manifest holds.
func (u Upgrade) waitMirrored(ctx context.Context, manifest []byte) error {
	if u.Mirrored == nil {
		return nil
	}
	var want corev1.Pod
	if err := yaml.Unmarshal(manifest, &want); err != nil {
		return err
	}
	s := poll.Spec{What: "the API to show " + u.Component + "'s new pod (its mirror pod)", Interval: 500 * time.Millisecond,
		Timeout: u.Timeout, Out: u.Out, Prefix: u.Prefix}
	err := poll.Until(ctx, s, func(ctx context.Context) (bool, error) { return u.Mirrored(ctx, &want) })
	if err != nil {
		return fmt.Errorf("%s runs its new pod and is healthy, but %w; is the kubelet able to reach the API server? "+
			"run the upgrade again once it is", u.Component, err)
	}
	return nil
}

// SameSpec says whether a mirror pod runs the manifest's container: the
// kubelet copies the image and command verbatim (it only adds defaults).
func SameSpec(mirror, manifest *corev1.Pod) bool {
	if len(mirror.Spec.Containers) == 0 || len(manifest.Spec.Containers) == 0 {
		return false
	}
	m, w := mirror.Spec.Containers[0], manifest.Spec.Containers[0]
	return m.Image == w.Image && slices.Equal(m.Command, w.Command) && slices.Equal(m.Args, w.Args)
}

func (u Upgrade) exitedSince(ctx context.Context, since time.Time) int {
	n := 0
	_ = withRuntime(u.CRIEndpoint, func(rt runtimeapi.RuntimeServiceClient) error {
		list, err := containers(ctx, rt, u.Component)
		for _, c := range list {
			if c.State == runtimeapi.ContainerState_CONTAINER_EXITED && c.CreatedAt >= since.UnixNano() {
				n++
			}
		}
		return err
	})
	return n
}

// Upgraded is the pod with its container's image replaced and the flags
// set; everything else (the member's --initial-cluster, the user's flags,
// volumes) is kept as the running manifest has it.
func Upgraded(p *corev1.Pod, image string, args []config.Arg) *corev1.Pod {
	out := p.DeepCopy()
	if len(out.Spec.Containers) == 0 {
		return out
	}
	c := &out.Spec.Containers[0]
	c.Image = image
	for _, a := range args {
		c.Command = SetFlag(c.Command, a.Name, a.Value)
	}
	return out
}

// SetFlag sets --name=value in a command line, in place of an existing
// --name=... or at the end.
func SetFlag(cmd []string, name, value string) []string {
	flag := "--" + name + "="
	out := slices.Clone(cmd)
	for i, a := range out {
		if strings.HasPrefix(a, flag) || a == "--"+name {
			out[i] = flag + value
			return out
		}
	}
	return append(out, flag+value)
}

// ContainerImage is the image of a static pod's (first) container.
func ContainerImage(p *corev1.Pod) string {
	if len(p.Spec.Containers) == 0 {
		return ""
	}
	return p.Spec.Containers[0].Image
}

// ManifestImage is the image a component's manifest in dir runs.
func ManifestImage(dir, component string) (string, error) {
	p, err := readPod(ManifestPath(dir, component))
	if err != nil {
		return "", err
	}
	return ContainerImage(p), nil
}
