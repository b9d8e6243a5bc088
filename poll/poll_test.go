package poll

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUntilDone(t *testing.T) {
	n := 0
	err := Until(context.Background(), Spec{What: "x", Interval: time.Millisecond, Timeout: time.Second},
		func(context.Context) (bool, error) { n++; return n == 3, nil })
	if err != nil || n != 3 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestUntilTimeoutNamesWhatAndLastError(t *testing.T) {
	var out bytes.Buffer
	err := Until(context.Background(), Spec{What: "node w1 to be Ready", Interval: 5 * time.Millisecond,
		Timeout: 80 * time.Millisecond, Out: &out, Prefix: "wait-ready", Progress: 20 * time.Millisecond},
		func(context.Context) (bool, error) { return false, errors.New("connection refused") })
	if err == nil || !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), "node w1 to be Ready") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "[wait-ready] still waiting for node w1 to be Ready") {
		t.Errorf("no progress line: %q", out.String())
	}
}

func TestUntilPermanentStops(t *testing.T) {
	n := 0
	boom := errors.New("token rejected")
	err := Until(context.Background(), Spec{What: "x", Interval: time.Millisecond, Timeout: time.Second},
		func(context.Context) (bool, error) { n++; return false, Permanent(boom) })
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestUntilCancelledReturnsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	start := time.Now()
	err := Until(ctx, Spec{What: "x", Interval: 5 * time.Millisecond, Timeout: time.Minute},
		func(context.Context) (bool, error) { return false, nil })
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Fatalf("err=%v after %s", err, time.Since(start))
	}
}
