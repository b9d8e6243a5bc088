package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/systemd"
)

// Installation is the kubelet as reset finds it: its unit's state and the
// files kubestrap installed for it (unit, drop-in, binary) still present.
type Installation struct {
	State   string
	Running bool
	Files   []string
}

// ErrNotInstalled is a host with neither systemd nor a kubelet unit: a
// reset has nothing of the kubelet's to undo.
var ErrNotInstalled = errors.New("no kubelet unit and no systemd")

// Inspect reads the kubelet's installation on root. It needs systemd when
// any of the files is present (systemd.ErrNoSystemd otherwise).
func Inspect(ctx context.Context, root node.Root, sd systemd.Manager) (Installation, error) {
	var inst Installation
	for _, f := range []string{layout.KubeletDropInPath, layout.KubeletUnitPath, layout.KubeletBinary} {
		if root.Exists(f) {
			inst.Files = append(inst.Files, f)
		}
	}
	if !systemd.Running(root) {
		if len(inst.Files) == 0 {
			return inst, ErrNotInstalled
		}
		return inst, systemd.ErrNoSystemd
	}
	state, err := sd.ActiveState(ctx, layout.KubeletUnit)
	if err != nil {
		return inst, fmt.Errorf("ask systemd for %s's state: %w", layout.KubeletUnit, err)
	}
	inst.State = state
	inst.Running = state == "active" || state == "activating" || state == "reloading"
	return inst, nil
}

// Uninstall stops and disables the kubelet unit and removes inst's files
// through remove (which records them), then reloads systemd. It returns
// what it did, in order.
func Uninstall(ctx context.Context, root node.Root, sd systemd.Manager, inst Installation,
	remove func(path string) error) ([]string, error) {
	var did []string
	if inst.Running {
		if err := sd.Stop(ctx, layout.KubeletUnit); err != nil {
			return did, fmt.Errorf("stop kubelet: %w", err)
		}
		did = append(did, "stopped "+layout.KubeletUnit)
	}
	if root.Exists(layout.KubeletUnitPath) {
		if err := sd.Disable(ctx, layout.KubeletUnit); err != nil {
			return did, fmt.Errorf("disable kubelet: %w", err)
		}
		did = append(did, "disabled it")
	}
	for _, p := range inst.Files {
		if err := remove(p); err != nil {
			return did, err
		}
	}
	_ = os.Remove(root.Path(filepath.Dir(layout.KubeletDropInPath))) // when empty
	if len(inst.Files) > 0 {
		if err := sd.Reload(ctx); err != nil {
			return did, fmt.Errorf("systemd daemon-reload: %w", err)
		}
	}
	return did, nil
}
