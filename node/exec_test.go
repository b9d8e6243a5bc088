package node

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestCommandRunnerTimesOut(t *testing.T) {
	start := time.Now()
	// sh waits for its sleep child, which keeps the output pipe open after
	// sh is killed: the runner must not wait for it.
	_, err := commandRunner(100*time.Millisecond)("sh", "-c", "sleep 5; echo late")
	var ce *CommandError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || ce.Command != "sh -c sleep 5; echo late" {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "no answer after 100ms") {
		t.Errorf("message %q", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the timeout took %s", d)
	}
}

func TestCommandRunnerKeepsOutput(t *testing.T) {
	_, err := commandRunner(CommandTimeout)("sh", "-c", "echo 'modprobe: FATAL: Module nope not found' >&2; exit 1")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(err.Error(), "exit status 1: modprobe: FATAL: Module nope not found") {
		t.Fatalf("got %v", err)
	}
	if out, err := Real().Run("sh", "-c", "echo ok"); err != nil || string(out) != "ok\n" {
		t.Errorf("Real().Run: %q %v", out, err)
	}
}
