package renew

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/systemd"
)

// AutoWithin is the window of the timer's renewal: certificates expiring
// within 30 days, kubeadm's and check-expiration's default warning too.
const AutoWithin = 30 * 24 * time.Hour

// ServiceOptions is the one-shot service the timer starts: binary (this
// kubestrap) renews what expires within AutoWithin and, through the
// journal, says what it did. It runs only while the node is a control
// plane, so a node reset since does not fail every day.
func ServiceOptions(binary string) []*unit.UnitOption {
	return []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "kubestrap: renew this control-plane node's certificates that expire within 30 days"),
		unit.NewUnitOption("Unit", "ConditionPathExists", filepath.Join(layout.ManifestDir, "kube-apiserver.yaml")),
		unit.NewUnitOption("Unit", "After", "network-online.target "+layout.KubeletUnit),
		unit.NewUnitOption("Service", "Type", "oneshot"),
		unit.NewUnitOption("Service", "ExecStart", Command(binary)),
		unit.NewUnitOption("Service", "StandardOutput", "journal"),
		unit.NewUnitOption("Service", "StandardError", "journal"),
	}
}

// Command is the renewal the service runs.
func Command(binary string) string {
	return binary + " certs renew all --expiring-within " + certs.ShortDuration(AutoWithin)
}

// TimerOptions is the daily timer. Persistent catches up on a run missed
// while the node was off; the random delay keeps the control-plane nodes
// of one cluster from restarting their API servers at the same moment.
func TimerOptions() []*unit.UnitOption {
	return []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "kubestrap: daily renewal of this control-plane node's certificates"),
		unit.NewUnitOption("Timer", "OnCalendar", "daily"),
		unit.NewUnitOption("Timer", "Persistent", "true"),
		unit.NewUnitOption("Timer", "RandomizedDelaySec", "1h"),
		unit.NewUnitOption("Install", "WantedBy", "timers.target"),
	}
}

// Auto manages the auto-renewal timer of one node.
type Auto struct {
	Systemd systemd.Manager
	// UnitDir is where the units go (layout.SystemdUnitDir).
	UnitDir string
	// Binary is the kubestrap the service runs: the running one.
	Binary string
	// CertDir and KubeDir are where enable looks for control-plane
	// certificates.
	CertDir, KubeDir string
}

func (a Auto) servicePath() string { return filepath.Join(a.UnitDir, layout.RenewServiceUnit) }
func (a Auto) timerPath() string   { return filepath.Join(a.UnitDir, layout.RenewTimerUnit) }

// Enable writes the units, reloads systemd, enables the timer and starts
// it (restarts it when its unit changed). It refuses a node without
// control-plane certificates.
func (a Auto) Enable(ctx context.Context) (string, error) {
	if err := CheckControlPlane(a.CertDir, a.KubeDir); err != nil {
		return "", err
	}
	svcChanged, err := systemd.WriteUnit(a.servicePath(), ServiceOptions(a.Binary))
	if err != nil {
		return "", err
	}
	timerChanged, err := systemd.WriteUnit(a.timerPath(), TimerOptions())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, systemd.Timeout)
	defer cancel()
	if err := a.Systemd.Reload(ctx); err != nil {
		return "", fmt.Errorf("systemd daemon-reload: %w", err)
	}
	if err := a.Systemd.Enable(ctx, a.timerPath()); err != nil {
		return "", fmt.Errorf("enable %s: %w", layout.RenewTimerUnit, err)
	}
	start := a.Systemd.Start
	if svcChanged || timerChanged {
		start = a.Systemd.Restart
	}
	if err := start(ctx, layout.RenewTimerUnit); err != nil {
		return "", fmt.Errorf("start %s: %w", layout.RenewTimerUnit, err)
	}
	return fmt.Sprintf("enabled %s: daily, `%s` (logs: journalctl -u %s)", layout.RenewTimerUnit, Command(a.Binary),
		layout.RenewServiceUnit), nil
}

// Disable stops and disables the timer and removes both units; a node
// without them is left as it is.
func (a Auto) Disable(ctx context.Context) (string, error) {
	if !exists(a.timerPath()) && !exists(a.servicePath()) {
		return "auto-renew is not enabled on this node: nothing to do", nil
	}
	ctx, cancel := context.WithTimeout(ctx, systemd.Timeout)
	defer cancel()
	if err := a.Systemd.Stop(ctx, layout.RenewTimerUnit); err != nil {
		return "", fmt.Errorf("stop %s: %w", layout.RenewTimerUnit, err)
	}
	if err := a.Systemd.Disable(ctx, layout.RenewTimerUnit); err != nil {
		return "", fmt.Errorf("disable %s: %w", layout.RenewTimerUnit, err)
	}
	for _, p := range []string{a.timerPath(), a.servicePath()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	if err := a.Systemd.Reload(ctx); err != nil {
		return "", fmt.Errorf("systemd daemon-reload: %w", err)
	}
	return fmt.Sprintf("disabled %s and removed %s and %s", layout.RenewTimerUnit, a.timerPath(), a.servicePath()), nil
}

// Status is `certs auto-renew status`; its JSON form is stable.
type Status struct {
	Enabled bool `json:"enabled"`
	// Active is the timer's ActiveState ("active" while it is scheduled).
	Active  string    `json:"active,omitempty"`
	LastRun time.Time `json:"lastRun,omitzero"`
	NextRun time.Time `json:"nextRun,omitzero"`
	Command string    `json:"command,omitempty"`
}

// Status says whether the timer is enabled and, from systemd, when it
// last ran and runs next. Without the unit files it asks systemd nothing.
func (a Auto) Status(ctx context.Context) (Status, error) {
	var s Status
	if !exists(a.timerPath()) {
		return s, nil
	}
	s.Command = execStart(a.servicePath())
	ctx, cancel := context.WithTimeout(ctx, systemd.Timeout)
	defer cancel()
	state, err := a.Systemd.UnitFileState(ctx, layout.RenewTimerUnit)
	if err != nil {
		return s, err
	}
	s.Enabled = state == "enabled"
	if s.Active, err = a.Systemd.ActiveState(ctx, layout.RenewTimerUnit); err != nil {
		return s, err
	}
	s.LastRun, s.NextRun, err = a.Systemd.TimerTimes(ctx, layout.RenewTimerUnit)
	return s, err
}

// execStart reads the service's command back from its unit file, so that
// status shows which binary runs even after it moved.
func execStart(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	opts, err := unit.DeserializeOptions(f)
	if err != nil {
		return ""
	}
	for _, o := range opts {
		if o.Section == "Service" && o.Name == "ExecStart" {
			return strings.TrimSpace(o.Value)
		}
	}
	return ""
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// WriteText prints the status for people.
func (s Status) WriteText(w io.Writer) {
	switch {
	case s.Command == "" && !s.Enabled:
		fmt.Fprintln(w, "auto-renew: disabled (`kubestrap certs auto-renew enable` turns it on)")
		return
	case !s.Enabled:
		fmt.Fprintf(w, "auto-renew: disabled (%s is installed but not enabled)\n", layout.RenewTimerUnit)
	default:
		fmt.Fprintf(w, "auto-renew: enabled (%s %s)\n", layout.RenewTimerUnit, s.Active)
	}
	fmt.Fprintf(w, "last run:   %s\n", when(s.LastRun, "never"))
	fmt.Fprintf(w, "next run:   %s\n", when(s.NextRun, "not scheduled"))
	fmt.Fprintf(w, "command:    %s\n", s.Command)
}

func when(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.Format("2006-01-02 15:04:05 MST")
}
