// Package poll is kubestrap's one way to wait for something: a condition
// polled with k8s.io/apimachinery's wait helpers, a timeout, cancellation by
// the caller's context (Ctrl-C), and a progress line every few seconds so
// that no wait is silent for minutes.
package poll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// DefaultProgress is how often a long wait says what it is waiting for.
const DefaultProgress = 5 * time.Second

// Spec describes one wait.
type Spec struct {
	// What is being waited for, e.g. "node w1 to be Ready"; it appears in
	// progress lines and in the timeout error.
	What     string
	Interval time.Duration
	// Timeout bounds the wait; zero leaves it to ctx's deadline.
	Timeout time.Duration
	// Out receives progress lines prefixed with [Prefix]; nil keeps quiet.
	Out      io.Writer
	Prefix   string
	Progress time.Duration // DefaultProgress when zero
}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks an error that must end the wait at once; any other error
// a condition returns is transient: remembered, reported, and retried.
func Permanent(err error) error { return permanent{err} }

// Until polls cond (at once, then every Interval) until it reports done,
// returns a Permanent error, the timeout passes or ctx is cancelled.
func Until(ctx context.Context, s Spec, cond func(ctx context.Context) (bool, error)) error {
	start := time.Now()
	every := s.Progress
	if every <= 0 {
		every = DefaultProgress
	}
	lastReport := start
	var last error
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	err := wait.PollUntilContextCancel(ctx, s.Interval, true, func(ctx context.Context) (bool, error) {
		done, err := cond(ctx)
		var p permanent
		if errors.As(err, &p) {
			return false, p.err
		}
		last = err
		if !done && s.Out != nil && time.Since(lastReport) >= every {
			lastReport = time.Now()
			fmt.Fprintf(s.Out, "[%s] still waiting for %s (%s)%s\n", s.Prefix, s.What,
				time.Since(start).Round(time.Second), lastErrNote(last))
		}
		return done && err == nil, nil
	})
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("stopped waiting for %s: %w", s.What, err)
	}
	if wait.Interrupted(err) {
		took := time.Since(start).Round(100 * time.Millisecond)
		if last != nil {
			// %w: callers still tell the kind of the last failure apart.
			return fmt.Errorf("timed out after %s waiting for %s (last error: %w)", took, s.What, last)
		}
		return fmt.Errorf("timed out after %s waiting for %s", took, s.What)
	}
	return err
}

func lastErrNote(err error) string {
	if err == nil {
		return ""
	}
	return " (last error: " + err.Error() + ")"
}

// FormatDuration is how kubestrap prints a time taken in its step lines
// (phases, fixes): milliseconds under a second, else seconds to 1/100.
func FormatDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
