package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockPath is the lock that init, join and reset hold for their
// whole run: two of them on one node would interleave writes to the same
// PKI, manifests and kubelet configuration.
const LockPath = "/run/kubestrap.lock"

// Lock is a held exclusive lock; Release it when the operation ends.
type Lock struct{ f *os.File }

// ErrLocked says another kubestrap operation holds the lock.
var ErrLocked = errors.New("another kubestrap operation is running on this node")

// AcquireLock takes the lock at path without waiting: a second operation is
// refused, naming the holder's pid, rather than queued behind a run that may
// be waiting minutes for a control plane. The kernel drops the lock when the
// holder exits, so a killed run never leaves the node locked.
func AcquireLock(path, what string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s; lock %s): wait for it to finish, then run `kubestrap %s` again",
				ErrLocked, strings.TrimSpace(string(holder)), path, what)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" running kubestrap "+what+"\n"), 0)
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		_ = l.f.Close()
	}
}
