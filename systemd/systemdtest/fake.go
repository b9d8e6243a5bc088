// Package systemdtest is a fake systemd.Manager for tests: it records what
// was asked of it and answers from its fields.
package systemdtest

import (
	"context"
	"sync"
	"time"

	"github.com/kubestrap/kubestrap/systemd"
)

// Fake records calls; NeedsReload, State, FileState, LastTrigger and
// NextElapse are its answers.
type Fake struct {
	mu          sync.Mutex
	Calls       []string
	NeedsReload bool
	State       string
	FileState   string
	LastTrigger time.Time
	NextElapse  time.Time
	Err         error
}

var _ systemd.Manager = (*Fake)(nil)

func (f *Fake) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, call)
	return f.Err
}

// Reload implements systemd.Manager.
func (f *Fake) Reload(context.Context) error { return f.record("daemon-reload") }

// Enable implements systemd.Manager.
func (f *Fake) Enable(_ context.Context, paths ...string) error {
	var err error
	for _, p := range paths {
		err = f.record("enable " + p)
	}
	return err
}

// Disable implements systemd.Manager.
func (f *Fake) Disable(_ context.Context, names ...string) error {
	var err error
	for _, n := range names {
		err = f.record("disable " + n)
	}
	return err
}

// Restart implements systemd.Manager.
func (f *Fake) Restart(_ context.Context, name string) error { return f.record("restart " + name) }

// Stop implements systemd.Manager.
func (f *Fake) Stop(_ context.Context, name string) error { return f.record("stop " + name) }

// ActiveState implements systemd.Manager.
func (f *Fake) ActiveState(context.Context, string) (string, error) {
	if f.State == "" {
		return "active", f.Err
	}
	return f.State, f.Err
}

// NeedReload implements systemd.Manager.
func (f *Fake) NeedReload(context.Context, string) (bool, error) { return f.NeedsReload, f.Err }

// Start implements systemd.Manager.
func (f *Fake) Start(_ context.Context, name string) error { return f.record("start " + name) }

// UnitFileState implements systemd.Manager.
func (f *Fake) UnitFileState(context.Context, string) (string, error) { return f.FileState, f.Err }

// TimerTimes implements systemd.Manager.
func (f *Fake) TimerTimes(context.Context, string) (time.Time, time.Time, error) {
	return f.LastTrigger, f.NextElapse, f.Err
}

// EnableNow implements systemd.Manager.
func (f *Fake) EnableNow(_ context.Context, unitPaths ...string) error {
	var err error
	for _, p := range unitPaths {
		err = f.record("enable-now " + p)
	}
	return err
}

// DisableNow implements systemd.Manager.
func (f *Fake) DisableNow(_ context.Context, names ...string) error {
	var err error
	for _, n := range names {
		err = f.record("disable-now " + n)
	}
	return err
}

// Called returns the recorded calls.
func (f *Fake) Called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.Calls...)
}
