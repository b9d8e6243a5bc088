package kubelet

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/hostfs"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/systemd"
)

// ReleaseDir is the directory of the running kubestrap binary, symlinks
// resolved: the unpacked release, holding kubelet and cni/ beside it.
func ReleaseDir() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	return filepath.Dir(self), nil
}

// BundledAgent finds the kubelet shipped next to the running kubestrap
// binary, or returns the explicit path.
func BundledAgent(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	dir, err := ReleaseDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "kubelet")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no kubelet in %s: unpack the whole kubestrap release there, or pass --agent-binary", dir)
	}
	return p, nil
}

// InstallAgent copies the bundled kubelet to dst, normally
// layout.KubeletBinary (atomically, only when it differs), and reports
// whether it changed.
func InstallAgent(src, dst string) (bool, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return false, fmt.Errorf("read the bundled kubelet: %w", err)
	}
	if old, err := os.ReadFile(dst); err == nil && sha256.Sum256(old) == sha256.Sum256(data) {
		return false, nil
	}
	return true, hostfs.WriteFileAtomic(dst, data, 0o755)
}

// UnitOptions is the kubelet's systemd unit: restart quickly and
// forever, as the control plane depends on it.
func UnitOptions() []*unit.UnitOption {
	return []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "kubelet: the Kubernetes node agent, installed by kubestrap"),
		unit.NewUnitOption("Unit", "Wants", "network-online.target containerd.service"),
		unit.NewUnitOption("Unit", "After", "network-online.target containerd.service"),
		unit.NewUnitOption("Service", "ExecStart", layout.KubeletBinary),
		unit.NewUnitOption("Service", "Restart", "always"),
		unit.NewUnitOption("Service", "RestartSec", "1"),
		unit.NewUnitOption("Service", "StartLimitInterval", "0"),
		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	}
}

// DropInOptions wires the kubeconfigs, the config file and the
// per-node flags file into the kubelet's command line.
func DropInOptions() []*unit.UnitOption {
	return []*unit.UnitOption{
		unit.NewUnitOption("Service", "Environment", fmt.Sprintf(
			`"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=%s --kubeconfig=%s"`, layout.BootstrapKubeletConfPath, layout.KubeletConfPath)),
		unit.NewUnitOption("Service", "Environment",
			`"KUBELET_CONFIG_ARGS=--config=`+layout.KubeletConfigPath+`"`),
		unit.NewUnitOption("Service", "EnvironmentFile", "-"+filepath.Join(layout.KubeletDir, layout.KubeletFlagsFile)),
		unit.NewUnitOption("Service", "ExecStart", ""),
		unit.NewUnitOption("Service", "ExecStart",
			layout.KubeletBinary+" $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBESTRAP_ARGS"),
	}
}

// Start installs the agent, writes the unit and drop-in (all below root),
// and (re)starts the kubelet through systemd. The restart happens every
// time: the kubelet reads its config only at start. daemon-reload runs when
// a file changed or systemd says it is needed (an admin edited a unit).
func Start(ctx context.Context, root hostfs.Root, sd systemd.Manager, agent string) (string, error) {
	var notes []string
	changed, err := InstallAgent(agent, root.Path(layout.KubeletBinary))
	if err != nil {
		return "", err
	}
	if changed {
		notes = append(notes, "installed "+layout.KubeletBinary)
	}
	c1, err := systemd.WriteUnit(root.Path(layout.KubeletUnitPath), UnitOptions())
	if err != nil {
		return "", err
	}
	c2, err := systemd.WriteUnit(root.Path(layout.KubeletDropInPath), DropInOptions())
	if err != nil {
		return "", err
	}
	if c1 || c2 {
		notes = append(notes, "wrote "+layout.KubeletUnitPath)
	}
	need, err := sd.NeedReload(ctx, layout.KubeletUnit)
	if err != nil {
		return "", fmt.Errorf("ask systemd whether %s needs daemon-reload: %w", layout.KubeletUnit, err)
	}
	if c1 || c2 || need {
		if err := sd.Reload(ctx); err != nil {
			return "", fmt.Errorf("systemd daemon-reload: %w", err)
		}
		notes = append(notes, "daemon-reload")
	}
	if err := sd.Enable(ctx, layout.KubeletUnitPath); err != nil {
		return "", fmt.Errorf("enable kubelet: %w", err)
	}
	if err := sd.Restart(ctx, layout.KubeletUnit); err != nil {
		return "", fmt.Errorf("start kubelet: %w", err)
	}
	return strings.Join(append(notes, "kubelet started"), "; "), nil
}
