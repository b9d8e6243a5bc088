package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// stepTimeouts bound each remote step, so that a command that hangs on a
// host that still answers keepalives (a stuck image pull, a lock) is cut off
// with an error naming the host and the step instead of hanging up. Each is
// generous for its step on a slow VM; an upload's grows with the file (see
// uploadTimeout).
var stepTimeouts = map[string]time.Duration{
	"probe":        2 * time.Minute,
	"install":      10 * time.Minute,
	"images load":  20 * time.Minute,
	"preflight":    10 * time.Minute,
	"init":         20 * time.Minute,
	"join":         20 * time.Minute,
	"join token":   3 * time.Minute,
	"upload-certs": 5 * time.Minute,
	"kubeconfig":   2 * time.Minute,
	"reset":        15 * time.Minute,
	"remove files": 5 * time.Minute,
	// An apply: snapshot, four static pods (each up to 3 minutes, and as
	// long again for a rollback), addons rolling on every node, kubelet.
	"upgrade apply": 40 * time.Minute,
	"upgrade node":  30 * time.Minute,
}

// waitSlack is added to the wait for Ready nodes beyond kubectl's own
// --timeout, so that kubectl reports first when it can.
const waitSlack = time.Minute

// uploadTimeout allows 2 minutes plus 1 minute per 32 MB: a link as slow
// as 0.5 MB/s still finishes a large images tarball.
func uploadTimeout(size int64) time.Duration {
	return 2*time.Minute + time.Duration(size/(32<<20))*time.Minute
}

// StepTimeoutError: a step did not finish on a host in its time.
type StepTimeoutError struct {
	Host, Step string
	Timeout    time.Duration
	Err        error
}

func (e *StepTimeoutError) Error() string {
	return fmt.Sprintf("host %s: step %q did not finish within %s and was cut off: %v", e.Host, e.Step, e.Timeout, e.Err)
}

func (e *StepTimeoutError) Unwrap() error { return e.Err }
func (e *StepTimeoutError) namesHost()    {}

// hostNamer is an error that names its host already, so that each does not
// name it twice.
type hostNamer interface {
	error
	namesHost()
}

func namesHost(err error) bool {
	var hn hostNamer
	return errors.As(err, &hn)
}

// timed runs one step of a host under its deadline. Only the step's own
// deadline becomes a StepTimeoutError: the run's cancellation stays what
// it is.
func timed(ctx context.Context, h *hostRun, step string, d time.Duration, fn func(context.Context) error) error {
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := fn(sctx)
	if err != nil && ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		return &StepTimeoutError{Host: h.ID(), Step: step, Timeout: d, Err: err}
	}
	return err
}

// timedStep is timed with the step's entry of stepTimeouts.
func timedStep(ctx context.Context, h *hostRun, step string, fn func(context.Context) error) error {
	d, ok := stepTimeouts[step]
	if !ok {
		d = 5 * time.Minute // a step added without an entry still gets a bound
	}
	return timed(ctx, h, step, d, fn)
}
