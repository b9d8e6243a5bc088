package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/systemd"
)

// The units of scheduled snapshots, as k3s's etcd-snapshot-schedule but
// with systemd doing the timing: the timer starts the oneshot service.
const (
	ServiceName = "kubestrap-etcd-snapshot.service"
	TimerName   = "kubestrap-etcd-snapshot.timer"
	// UnitDir is where kubestrap writes its units.
	UnitDir = "/etc/systemd/system"
)

// MinEvery is the shortest schedule accepted: a snapshot streams the
// whole database, which must not happen back to back.
const MinEvery = time.Minute

// Schedule says how often to save and how many saves to keep, where.
type Schedule struct {
	// Binary is the absolute path of the kubestrap that saves.
	Binary string
	Dir    string
	Every  time.Duration
	Retain int
}

// Validate rejects schedules that would not run as meant.
func (s Schedule) Validate() error {
	var errs []error
	if s.Every < MinEvery {
		errs = append(errs, fmt.Errorf("--every %s: use at least %s, e.g. 6h", s.Every, MinEvery))
	}
	if s.Retain < 1 {
		errs = append(errs, fmt.Errorf("--retain %d: keep at least 1 snapshot", s.Retain))
	}
	if !filepath.IsAbs(s.Dir) {
		errs = append(errs, fmt.Errorf("--dir %q: use an absolute path (the service does not run in this dir)", s.Dir))
	}
	return errors.Join(errs...)
}

// ServiceUnit is the oneshot service that saves one snapshot and prunes.
func ServiceUnit(s Schedule) []*unit.UnitOption {
	cmd := []string{s.Binary, "etcd", "snapshot", "save", "--dir", s.Dir, "--retain", strconv.Itoa(s.Retain)}
	for i, a := range cmd {
		cmd[i] = execArg(a)
	}
	return []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "kubestrap: save a snapshot of this node's etcd member"),
		unit.NewUnitOption("Unit", "Documentation", "https://github.com/kubestrap/kubestrap#etcd-snapshots"),
		unit.NewUnitOption("Service", "Type", "oneshot"),
		unit.NewUnitOption("Service", "ExecStart", strings.Join(cmd, " ")),
		// A save streams the whole database to disk: keep it from
		// competing with etcd itself.
		unit.NewUnitOption("Service", "Nice", "10"),
		unit.NewUnitOption("Service", "IOSchedulingClass", "idle"),
	}
}

// TimerUnit starts the service every s.Every. OnBootSec is past when the
// timer is enabled on a running node, which makes systemd save at once:
// `schedule` proves itself right away instead of hours later.
func TimerUnit(s Schedule) []*unit.UnitOption {
	return []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "kubestrap: save an etcd snapshot every "+Span(s.Every)),
		unit.NewUnitOption("Timer", "OnBootSec", "5min"),
		unit.NewUnitOption("Timer", "OnUnitActiveSec", Span(s.Every)),
		unit.NewUnitOption("Timer", "Unit", ServiceName),
		unit.NewUnitOption("Install", "WantedBy", "timers.target"),
	}
}

// Span renders a duration as a systemd time span: 6h, 90min, 45s.
func Span(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "min"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// execArg quotes an ExecStart argument when systemd would split or
// unescape it.
func execArg(a string) string {
	if !strings.ContainsAny(a, " \t\"'\\$%;") {
		return a
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(a) + `"`
}

// Enable writes both units into unitDir and enables and starts the timer;
// a changed schedule restarts the timer so that it takes effect now (a new
// one needs no restart: starting it is enough).
func Enable(ctx context.Context, m systemd.Manager, unitDir string, s Schedule) error {
	if err := s.Validate(); err != nil {
		return err
	}
	_, err := os.Stat(filepath.Join(unitDir, TimerName))
	existed := err == nil
	svc, err := systemd.WriteUnit(filepath.Join(unitDir, ServiceName), ServiceUnit(s))
	if err != nil {
		return err
	}
	tmr, err := systemd.WriteUnit(filepath.Join(unitDir, TimerName), TimerUnit(s))
	if err != nil {
		return err
	}
	if err := m.EnableNow(ctx, filepath.Join(unitDir, TimerName)); err != nil {
		return err
	}
	if existed && (svc || tmr) {
		return m.Restart(ctx, TimerName)
	}
	return nil
}

// Disable stops and disables the timer and removes both units; the saved
// snapshots stay. Disabling what is not scheduled is a no-op.
func Disable(ctx context.Context, m systemd.Manager, unitDir string) (bool, error) {
	timer := filepath.Join(unitDir, TimerName)
	if _, err := os.Stat(timer); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := m.DisableNow(ctx, TimerName); err != nil {
		return false, err
	}
	for _, n := range []string{TimerName, ServiceName} {
		if err := os.Remove(filepath.Join(unitDir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	return true, m.Reload(ctx)
}
