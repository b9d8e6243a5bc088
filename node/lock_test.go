package node

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockRefusesSecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "kubestrap.lock")
	l, err := AcquireLock(path, "init")
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(path, "join")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "running kubestrap init") {
		t.Fatalf("second lock: %v", err)
	}
	l.Release()
	l2, err := AcquireLock(path, "join")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}
