package node

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// CommandTimeout bounds every external command kubestrap runs on the host. firewall-cmd
// waits on firewalld over D-Bus and modprobe on a module's init code; when
// either hangs, preflight would hang with it, while on a healthy host none
// of them needs more than a few seconds.
const CommandTimeout = 30 * time.Second

// CommandError is a failed external command with its combined output,
// which is usually what says why (modprobe's "Module not found").
type CommandError struct {
	Command string
	Output  []byte
	Err     error
}

func (e *CommandError) Error() string {
	msg := e.Command + ": " + e.Err.Error()
	if out := strings.TrimSpace(string(e.Output)); out != "" {
		msg += ": " + out
	}
	return msg
}

// Unwrap gives callers the *exec.ExitError or context.DeadlineExceeded.
func (e *CommandError) Unwrap() error { return e.Err }

// commandRunner returns the Host.Run that every real command goes through.
func commandRunner(timeout time.Duration) func(string, ...string) ([]byte, error) {
	return func(name string, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		// A killed command's children may hold the output pipe open;
		// without WaitDelay the timeout would wait for them.
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer after %s: %w", timeout, ctx.Err())
		}
		return out, &CommandError{Command: strings.Join(append([]string{name}, args...), " "), Output: out, Err: err}
	}
}
