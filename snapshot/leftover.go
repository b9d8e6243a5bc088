package snapshot

import (
	"fmt"
	"io"

	"github.com/kubestrap/kubestrap/node"
)

// RecoverLeftover finishes or rolls back a day-2 operation that a killed
// run left under root with static pods stopped (a park with its journal),
// and says which on out, each line starting "[prefix]". The caller holds
// the node lock, so no live run's park is touched.
func RecoverLeftover(root node.Root, out io.Writer, prefix string) error {
	msg, err := Recover(ParkDir(root), out)
	if err != nil {
		return err
	}
	if msg != "" {
		fmt.Fprintf(out, "[%s] %s\n", prefix, msg)
	}
	return nil
}

// RecoverLeftoverIfIdle is RecoverLeftover for commands that otherwise
// only read (status): it recovers only when no other kubestrap run holds
// the lock, since a running restore's park is not a leftover; and a
// failure is only a warning, since reading must go on.
func RecoverLeftoverIfIdle(root node.Root, out io.Writer, prefix string) {
	lock, err := node.AcquireLock(node.LockPath, prefix)
	if err != nil {
		return
	}
	defer lock.Release()
	if err := RecoverLeftover(root, out, prefix); err != nil {
		fmt.Fprintf(out, "[%s] warning: %v\n", prefix, err)
	}
}
