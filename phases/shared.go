package phases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/poll"
	"github.com/kubestrap/kubestrap/staticpods"
)

// ErrNeedsEarlierPhase marks a phase run alone before the phase whose
// output it needs.
var ErrNeedsEarlierPhase = errors.New("an earlier phase has not run on this node")

// ReadNeeded reads a file an earlier phase writes; when it is missing the
// error names that phase, so a phase run alone says what it needs first.
func ReadNeeded(path, command, phase string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing: run `kubestrap %s phase %s` first", ErrNeedsEarlierPhase, path, command, phase)
	}
	return b, err
}

// WaitSpec is how the phases wait: polled often (the steps are quick on a
// warm node), with progress lines under prefix.
func WaitSpec(out io.Writer, prefix string) poll.Spec {
	return poll.Spec{Interval: PollInterval, Out: out, Prefix: prefix}
}

// NewDryRunDir makes the temp dir for a dry run.
func NewDryRunDir() (string, error) {
	return os.MkdirTemp("", "kubestrap-dry-run-")
}

// Timeouts of the online phases. Variables only so that the phase tests
// can shorten them; nothing else changes them.
var (
	ControlPlaneTimeout = 4 * time.Minute
	APITimeout          = 2 * time.Minute
)

// PollInterval is how often the phases poll.
const PollInterval = 100 * time.Millisecond

// WaitControlPlane waits for this node's kubelet and static pods; on a
// timeout the failing containers' last log lines come through the CRI.
// init and control-plane join share it.
func WaitControlPlane(ctx context.Context, out io.Writer, c *config.Init, certDir, prefix string) (string, error) {
	probes, err := staticpods.ControlPlaneProbes(c, certDir)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, ControlPlaneTimeout)
	defer cancel()
	w := &staticpods.Waiter{Probes: probes, Interval: PollInterval, Out: out, Prefix: prefix,
		Logs: staticpods.LogsFrom(c.NodeRegistration.CRISocket)}
	start := time.Now()
	if err := w.Wait(ctx); err != nil {
		return "", err
	}
	return "control plane healthy after " + poll.FormatDuration(time.Since(start)), nil
}
