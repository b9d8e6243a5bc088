package parallel

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// Every piece runs, at once, and every error is reported in order.
func TestDoRunsAllAtOnceAndJoinsEveryError(t *testing.T) {
	var started atomic.Int32
	release := make(chan struct{})
	go func() {
		for started.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	err := Do(4, func(i int) error {
		started.Add(1)
		<-release // deadlocks unless all four run at once
		if i%2 == 1 {
			return fmt.Errorf("piece %d", i)
		}
		return nil
	})
	if err == nil || err.Error() != "piece 1\npiece 3" {
		t.Fatalf("err = %v, want pieces 1 and 3 in order", err)
	}
	if Do(0, func(int) error { return errors.New("never") }) != nil {
		t.Error("no pieces: want nil")
	}
}
