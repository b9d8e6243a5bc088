package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
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

// InstallAgent puts the bundled kubelet at dst, normally
// layout.KubeletBinary, atomically and only when it differs, and reports
// whether it changed. It is a hard link when src and dst share a file
// system: the kubelet is 82 MB, and copying and fsyncing it took 0.3-0.4 s
// of every init and join. A link still pins the kubelet that was
// installed, as a copy does, because releases replace their files by
// rename (install.sh), never in place. Elsewhere it is a copy.
func InstallAgent(src, dst string) (bool, error) {
	same, err := sameContent(src, dst)
	if err != nil || same {
		return false, err
	}
	if err := linkAtomic(src, dst); err == nil {
		return true, nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return false, fmt.Errorf("read the bundled kubelet: %w", err)
	}
	return true, node.WriteFileAtomic(dst, data, 0o755)
}

// sameContent compares the files by identity, size, then bytes (cheaper
// than hashing both, and exact).
func sameContent(src, dst string) (bool, error) {
	si, err := os.Stat(src)
	if err != nil {
		return false, fmt.Errorf("read the bundled kubelet: %w", err)
	}
	di, err := os.Stat(dst)
	if err != nil || di.Size() != si.Size() {
		return false, nil
	}
	if os.SameFile(si, di) {
		return true, nil
	}
	a, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer func() { _ = a.Close() }()
	b, err := os.Open(dst)
	if err != nil {
		return false, nil
	}
	defer func() { _ = b.Close() }()
	return equalReaders(a, b)
}

func equalReaders(a, b io.Reader) (bool, error) {
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		n, errA := io.ReadFull(a, bufA)
		m, errB := io.ReadFull(b, bufB)
		if n != m || !bytes.Equal(bufA[:n], bufB[:m]) {
			return false, nil
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			return errB == io.EOF || errB == io.ErrUnexpectedEOF, nil
		}
		if errA != nil {
			return false, errA
		}
	}
}

// linkAtomic hard-links src to dst through a temp name and a rename, so
// dst is never missing or half there. Only an executable src is linked:
// a link shares its mode.
func linkAtomic(src, dst string) error {
	si, err := os.Stat(src)
	if err != nil || si.Mode().Perm()&0o111 == 0 {
		return errors.New("not linkable")
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".link-tmp")
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
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
func Start(ctx context.Context, root node.Root, sd systemd.Manager, agent string) (string, error) {
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
