// Package systemd is kubestrap's hand on the node's service manager: unit
// files rendered with go-systemd's unit package, and daemon-reload, enable,
// disable, restart, stop and state queries over systemd's D-Bus API (no
// systemctl exec).
package systemd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/coreos/go-systemd/v22/unit"
	"github.com/godbus/dbus/v5"

	"github.com/kubestrap/kubestrap/node"
)

// Manager is what kubestrap asks of systemd; tests use a fake.
type Manager interface {
	// Reload is `systemctl daemon-reload`.
	Reload(ctx context.Context) error
	// Enable enables unit files by path, like `systemctl enable`.
	Enable(ctx context.Context, paths ...string) error
	// Disable disables units by name, like `systemctl disable`; a unit
	// that is not enabled is no error.
	Disable(ctx context.Context, names ...string) error
	// Restart (re)starts a unit and waits for the job to finish.
	Restart(ctx context.Context, name string) error
	// Stop stops a unit and waits for the job to finish.
	Stop(ctx context.Context, name string) error
	// ActiveState returns "active", "inactive", "failed", ...
	ActiveState(ctx context.Context, name string) (string, error)
	// NeedReload is the unit's NeedDaemonReload property: its files on
	// disk changed since systemd loaded them.
	NeedReload(ctx context.Context, name string) (bool, error)
	// Start starts a unit and waits for the job to finish; an active unit
	// stays as it is.
	Start(ctx context.Context, name string) error
	// UnitFileState is `systemctl is-enabled`: "enabled", "disabled", ...
	UnitFileState(ctx context.Context, name string) (string, error)
	// TimerTimes are a timer's last and next elapse, each zero when
	// systemd knows none.
	TimerTimes(ctx context.Context, name string) (last, next time.Time, err error)
	// EnableNow is `systemctl enable --now`: it enables unit files by
	// path, reloads systemd and starts each unit.
	EnableNow(ctx context.Context, unitPaths ...string) error
	// DisableNow is `systemctl disable --now`: it stops units by name and
	// disables them; a unit that is not loaded or not enabled is no error.
	DisableNow(ctx context.Context, names ...string) error
}

// ErrNoSystemd says the host does not run systemd as its init.
var ErrNoSystemd = errors.New("systemd is not running on this host (kubestrap starts the kubelet as a systemd unit): " +
	"boot the node with systemd as PID 1")

// Running reports whether systemd is the init system (sd_booted's test).
func Running(root node.Root) bool { return root.Exists("/run/systemd/system") }

// DBus is a Manager talking to systemd over its private socket, which
// works as root even when no D-Bus daemon runs.
type DBus struct{}

var _ Manager = DBus{}

func (DBus) conn(ctx context.Context) (*sddbus.Conn, error) {
	if !Running("/") {
		return nil, ErrNoSystemd
	}
	c, err := sddbus.NewSystemdConnectionContext(ctx)
	if err != nil {
		if c, err2 := sddbus.NewSystemConnectionContext(ctx); err2 == nil {
			return c, nil
		}
		return nil, fmt.Errorf("connect to systemd: %w", err)
	}
	return c, nil
}

// Reload implements Manager.
func (d DBus) Reload(ctx context.Context) error {
	c, err := d.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.ReloadContext(ctx)
}

// Enable implements Manager.
func (d DBus) Enable(ctx context.Context, paths ...string) error {
	c, err := d.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, _, err = c.EnableUnitFilesContext(ctx, paths, false, true)
	return err
}

// Disable implements Manager.
func (d DBus) Disable(ctx context.Context, names ...string) error {
	c, err := d.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.DisableUnitFilesContext(ctx, names, false)
	return err
}

// Restart implements Manager.
func (d DBus) Restart(ctx context.Context, name string) error {
	return d.job(ctx, name, func(c *sddbus.Conn, ch chan string) (int, error) {
		return c.RestartUnitContext(ctx, name, "replace", ch)
	})
}

// Stop implements Manager.
func (d DBus) Stop(ctx context.Context, name string) error {
	return d.job(ctx, name, func(c *sddbus.Conn, ch chan string) (int, error) {
		return c.StopUnitContext(ctx, name, "replace", ch)
	})
}

func (d DBus) job(ctx context.Context, name string, start func(*sddbus.Conn, chan string) (int, error)) error {
	c, err := d.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ch := make(chan string, 1)
	if _, err := start(c, ch); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s: systemd job %s (see `journalctl -u %s`)", name, res, name)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", name, ctx.Err())
	}
}

// Start implements Manager.
func (d DBus) Start(ctx context.Context, name string) error {
	return d.job(ctx, name, func(c *sddbus.Conn, ch chan string) (int, error) {
		return c.StartUnitContext(ctx, name, "replace", ch)
	})
}

// ActiveState implements Manager.
func (d DBus) ActiveState(ctx context.Context, name string) (string, error) {
	return d.stringProperty(ctx, name, "ActiveState")
}

// UnitFileState implements Manager.
func (d DBus) UnitFileState(ctx context.Context, name string) (string, error) {
	return d.stringProperty(ctx, name, "UnitFileState")
}

func (d DBus) stringProperty(ctx context.Context, name, prop string) (string, error) {
	c, err := d.conn(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	p, err := c.GetUnitPropertyContext(ctx, name, prop)
	if err != nil {
		return "", err
	}
	s, _ := p.Value.Value().(string)
	return s, nil
}

// TimerTimes implements Manager with the timer's LastTriggerUSec and
// NextElapseUSecRealtime properties (microseconds since the epoch, 0 for
// never).
func (d DBus) TimerTimes(ctx context.Context, name string) (last, next time.Time, err error) {
	c, err := d.conn(ctx)
	if err != nil {
		return last, next, err
	}
	defer c.Close()
	props, err := c.GetUnitTypePropertiesContext(ctx, name, "Timer")
	if err != nil {
		return last, next, err
	}
	return usecTime(props["LastTriggerUSec"]), usecTime(props["NextElapseUSecRealtime"]), nil
}

func usecTime(v any) time.Time {
	us, ok := v.(uint64)
	if !ok || us == 0 || us == ^uint64(0) {
		return time.Time{}
	}
	return time.UnixMicro(int64(us))
}

// NeedReload implements Manager. A unit systemd has never loaded has no
// such property to report, and needs no reload for it.
func (d DBus) NeedReload(ctx context.Context, name string) (bool, error) {
	c, err := d.conn(ctx)
	if err != nil {
		return false, err
	}
	defer c.Close()
	p, err := c.GetUnitPropertyContext(ctx, name, "NeedDaemonReload")
	if err != nil {
		return false, err
	}
	need, _ := p.Value.Value().(bool)
	return need, nil
}

// EnableNow implements Manager. The reload comes between enabling and
// starting, as systemctl does it: a unit file written just before is
// otherwise unknown to systemd when the start job is queued.
func (d DBus) EnableNow(ctx context.Context, unitPaths ...string) error {
	if err := d.Enable(ctx, unitPaths...); err != nil {
		return fmt.Errorf("enable %s: %w", strings.Join(unitPaths, ", "), err)
	}
	if err := d.Reload(ctx); err != nil {
		return err
	}
	for _, p := range unitPaths {
		name := filepath.Base(p)
		if err := d.job(ctx, name, func(c *sddbus.Conn, ch chan string) (int, error) {
			return c.StartUnitContext(ctx, name, "replace", ch)
		}); err != nil {
			return err
		}
	}
	return nil
}

// DisableNow implements Manager. Stopping a unit systemd does not know
// fails with NoSuchUnit, which means there is nothing to stop.
func (d DBus) DisableNow(ctx context.Context, names ...string) error {
	for _, n := range names {
		if err := d.Stop(ctx, n); err != nil && !isNoSuchUnit(err) {
			return err
		}
	}
	return d.Disable(ctx, names...)
}

func isNoSuchUnit(err error) bool {
	var de dbus.Error
	return errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchUnit"
}

// Timeout bounds one systemd operation.
const Timeout = 90 * time.Second

// WriteUnit renders unit options and writes them atomically; it reports
// whether the file changed, so callers reload and restart only then.
func WriteUnit(path string, opts []*unit.UnitOption) (bool, error) {
	data, err := io.ReadAll(unit.Serialize(opts))
	if err != nil {
		return false, err
	}
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	return true, node.WriteFileAtomic(path, data, 0o644)
}
