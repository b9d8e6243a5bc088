// Command pause is the pod sandbox's infra process: it holds the pod's
// namespaces, exits cleanly on SIGINT/SIGTERM and, as PID 1 of a pod with
// a shared PID namespace, reaps orphaned children. It sleeps in the signal
// wait: reaping happens only when SIGCHLD arrives, with WNOHANG, so it never
// spins (a bare Wait4 loop burns a CPU when there are no children).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (kubestrap)")
		return
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	os.Exit(loop(sigs, reap))
}

// loop waits for signals: SIGCHLD reaps, SIGINT/SIGTERM end with code 0.
func loop(sigs <-chan os.Signal, reapFn func() int) int {
	for s := range sigs {
		if s == syscall.SIGCHLD {
			reapFn()
			continue
		}
		return 0
	}
	return 0
}

// reap collects every exited child without blocking and returns how many.
func reap() int {
	n := 0
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return n
		}
		n++
	}
}
