package preflight

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/systemd"
)

// Fix is one standard change that makes a host ready for Kubernetes.
type Fix struct {
	Name    string   `json:"name"`
	Changes []string `json:"changes"`
	// Revert says how to undo the fix.
	Revert string       `json:"revert"`
	Apply  func() error `json:"-"`
}

// NotFixedError is what Apply returns for a problem --fix finds but must
// not change on its own; Msg says what to do by hand.
type NotFixedError struct {
	Msg string
}

func (e *NotFixedError) Error() string { return "not fixed: " + e.Msg }

// FixOptions are the inputs of PlanFixes.
type FixOptions struct {
	// Want is the containerd configuration Kubernetes needs.
	Want    ContainerdWant
	Systemd systemd.Manager
	// CRIEndpoint is polled after containerd restarts.
	CRIEndpoint string
	Now         func() time.Time
}

// PlanFixes works out which standard fixes this host needs; each comes with
// what it changes and how to revert it. Nothing is changed until Apply.
// A problem that must be fixed by hand comes last, as a Fix whose Apply
// returns a *NotFixedError, so that the other fixes are made first.
func PlanFixes(e *node.Host, o FixOptions) ([]Fix, error) {
	held, err := cgroupDriverHeld(e, o.Want)
	if err != nil {
		return nil, err
	}
	if held != nil {
		o.Want.CgroupDriver = "" // leave containerd's driver alone
	}
	fixes, err := containerdFix(e, o)
	if err != nil {
		return nil, err
	}
	fixes = append(fixes, modulesFix(e, o)...)
	fixes = append(fixes, sysctlFix(e, o)...)
	fixes = append(fixes, swapFix(e, o)...)
	if held != nil {
		fixes = append(fixes, *held)
	}
	return fixes, nil
}

func containerdFix(e *node.Host, o FixOptions) ([]Fix, error) {
	old, err := e.Root.ReadFile(ContainerdConfigPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	next, changes, err := EditContainerdConfig(old, o.Want)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	path := e.Root.Path(ContainerdConfigPath)
	backup := backupName(path, o.Now)
	revert := restoreText(e, ContainerdConfigPath, backup) + " && systemctl restart containerd"
	return []Fix{{Name: "containerd-config", Changes: append(changes, "restart containerd"), Revert: revert,
		Apply: func() error {
			if err := writeFixFile(path, backup, next); err != nil {
				return err
			}
			return restartContainerd(e, o)
		}}}, nil
}

// restartContainerd restarts containerd and waits until CRI answers again.
func restartContainerd(e *node.Host, o FixOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), systemd.Timeout)
	defer cancel()
	if err := o.Systemd.Restart(ctx, "containerd.service"); err != nil {
		return fmt.Errorf("restart containerd: %w", err)
	}
	var last error
	for ctx.Err() == nil {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, last = e.CRIVersion(cctx, o.CRIEndpoint)
		ccancel()
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("containerd did not answer CRI after the restart: %w", last)
}

func swapFix(e *node.Host, o FixOptions) []Fix {
	b, err := e.Root.ReadFile("/proc/swaps")
	if err != nil || len(strings.Split(strings.TrimSpace(string(b)), "\n")) < 2 {
		return nil
	}
	fstab := e.Root.Path("/etc/fstab")
	backup := backupName(fstab, o.Now)
	return []Fix{{Name: "swap", Changes: []string{"swapoff -a", "comment out swap lines in /etc/fstab"},
		Revert: fmt.Sprintf("cp -p %s /etc/fstab && swapon -a", backup),
		Apply: func() error {
			if _, err := e.Run("swapoff", "-a"); err != nil {
				return err
			}
			old, err := os.ReadFile(fstab)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			return writeFixFile(fstab, backup, commentSwap(old))
		}}}
}

// commentSwap comments out fstab entries of type swap.
func commentSwap(fstab []byte) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(fstab))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 3 && !strings.HasPrefix(f[0], "#") && f[2] == "swap" {
			line = "#" + line + " # disabled by kubestrap"
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes()
}
