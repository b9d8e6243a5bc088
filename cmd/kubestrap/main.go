// Command kubestrap bootstraps Kubernetes clusters. This package only wires
// flags to configuration and calls the phase runner and the domain
// packages; it holds no logic of its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/phases/initflow"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/renew"
)

// Exit codes, documented in the README.
const (
	exitOK        = 0
	exitError     = 1
	exitInvalid   = 2
	exitPreflight = 3
)

// usageError marks bad command-line input; the flows' runner returns the
// same type.
type usageError = phases.UsageError

func usage(err error) error { return &usageError{Err: err} }

// exitCode maps an error to the process exit code, in one place.
func exitCode(err error) int {
	var ve *config.ValidationError
	var de *config.DecodeError
	var ue *usageError
	var pe *preflight.Error
	var ce *initflow.ConfigChangedError
	var re *node.RoleError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &pe):
		return exitPreflight
	case errors.As(err, &ve), errors.As(err, &de), errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &re),
		errors.Is(err, renew.ErrNotControlPlane):
		return exitInvalid
	}
	return exitError
}

func main() {
	// One signal handler for every command: Ctrl-C (or SIGTERM from
	// Ansible's timeout) cancels the context, waits return at once, and the
	// phase runner prints how to resume.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	os.Exit(exitCode(err))
}
