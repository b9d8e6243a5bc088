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

	"github.com/kubestrap/kubestrap/hostfs"
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

// FixOptions are the inputs of PlanFixes.
type FixOptions struct {
	// Want is the containerd configuration Kubernetes needs.
	Want    ContainerdWant
	Systemd systemd.Manager
	// CRIEndpoint is polled after containerd restarts.
	CRIEndpoint string
	Now         func() time.Time
}

// Files the fixes own.
const (
	ModulesFile = "/etc/modules-load.d/k8s.conf"
	SysctlFile  = "/etc/sysctl.d/k8s.conf"
)

const modulesContent = "# written by kubestrap: modules Kubernetes networking needs\noverlay\nbr_netfilter\n"

var sysctls = []struct{ key, path string }{
	{"net.bridge.bridge-nf-call-iptables", "/proc/sys/net/bridge/bridge-nf-call-iptables"},
	{"net.bridge.bridge-nf-call-ip6tables", "/proc/sys/net/bridge/bridge-nf-call-ip6tables"},
	{"net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward"},
}

func sysctlContent() string {
	var b strings.Builder
	b.WriteString("# written by kubestrap: bridged pod traffic through iptables, and routing\n")
	for _, s := range sysctls {
		b.WriteString(s.key + " = 1\n")
	}
	return b.String()
}

// PlanFixes works out which standard fixes this host needs; each comes with
// what it changes and how to revert it. Nothing is changed until Apply.
func PlanFixes(e *Env, o FixOptions) ([]Fix, error) {
	var fixes []Fix
	f, err := containerdFix(e, o)
	if err != nil {
		return nil, err
	}
	fixes = append(fixes, f...)
	fixes = append(fixes, modulesFix(e)...)
	fixes = append(fixes, sysctlFix(e)...)
	fixes = append(fixes, swapFix(e, o)...)
	return fixes, nil
}

func backupName(path string, now func() time.Time) string {
	return path + ".kubestrap-backup-" + now().UTC().Format("20060102T150405Z")
}

func containerdFix(e *Env, o FixOptions) ([]Fix, error) {
	old, err := e.Root.ReadFile(ContainerdConfigPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	existed := err == nil
	next, changes, err := EditContainerdConfig(old, o.Want)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	path := e.Root.Path(ContainerdConfigPath)
	backup := backupName(path, o.Now)
	revert := "remove " + ContainerdConfigPath + " and restart containerd"
	if existed {
		revert = fmt.Sprintf("cp %s %s && systemctl restart containerd", backup, ContainerdConfigPath)
	}
	return []Fix{{Name: "containerd-config", Changes: append(changes, "restart containerd"), Revert: revert,
		Apply: func() error {
			if existed {
				if err := hostfs.WriteFileAtomic(backup, old, 0o644); err != nil {
					return err
				}
			}
			if err := hostfs.WriteFileAtomic(path, next, 0o644); err != nil {
				return err
			}
			return restartContainerd(e, o)
		}}}, nil
}

// restartContainerd restarts containerd and waits until CRI answers again.
func restartContainerd(e *Env, o FixOptions) error {
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

func modulesFix(e *Env) []Fix {
	if b, err := e.Root.ReadFile(ModulesFile); err == nil && strings.Contains(string(b), "br_netfilter") {
		return nil
	}
	return []Fix{{Name: "kernel-modules", Changes: []string{"write " + ModulesFile + " (overlay, br_netfilter)",
		"modprobe overlay br_netfilter"}, Revert: "rm " + ModulesFile,
		Apply: func() error {
			if err := hostfs.WriteFileAtomic(e.Root.Path(ModulesFile), []byte(modulesContent), 0o644); err != nil {
				return err
			}
			// Containers and some VMs have no modprobe; what matters is that
			// the bridge sysctls exist, which the sysctl fix checks.
			if _, err := e.LookPath("modprobe"); err == nil {
				for _, m := range []string{"overlay", "br_netfilter"} {
					if out, err := e.Run("modprobe", m); err != nil &&
						!e.Root.Exists("/proc/sys/net/bridge/bridge-nf-call-iptables") {
						return fmt.Errorf("modprobe %s: %v: %s", m, err, out)
					}
				}
			}
			return nil
		}}}
}

func sysctlFix(e *Env) []Fix {
	want := sysctlContent()
	needed := false
	if b, err := e.Root.ReadFile(SysctlFile); err != nil || string(b) != want {
		needed = true
	}
	var live []string
	for _, s := range sysctls {
		if v, _ := e.Root.ReadString(s.path); v != "1" {
			live = append(live, s.key)
		}
	}
	if !needed && len(live) == 0 {
		return nil
	}
	changes := []string{"write " + SysctlFile}
	if len(live) > 0 {
		changes = append(changes, "set "+strings.Join(live, ", ")+" to 1 now")
	}
	return []Fix{{Name: "sysctl", Changes: changes, Revert: "rm " + SysctlFile + " && sysctl --system",
		Apply: func() error {
			if err := hostfs.WriteFileAtomic(e.Root.Path(SysctlFile), []byte(want), 0o644); err != nil {
				return err
			}
			for _, s := range sysctls {
				if err := os.WriteFile(e.Root.Path(s.path), []byte("1\n"), 0o644); err != nil {
					return fmt.Errorf("set %s: %w (is br_netfilter loaded?)", s.key, err)
				}
			}
			return nil
		}}}
}

func swapFix(e *Env, o FixOptions) []Fix {
	b, err := e.Root.ReadFile("/proc/swaps")
	if err != nil || len(strings.Split(strings.TrimSpace(string(b)), "\n")) < 2 {
		return nil
	}
	fstab := e.Root.Path("/etc/fstab")
	backup := backupName(fstab, o.Now)
	return []Fix{{Name: "swap", Changes: []string{"swapoff -a", "comment out swap lines in /etc/fstab"},
		Revert: fmt.Sprintf("cp %s /etc/fstab && swapon -a", backup),
		Apply: func() error {
			if out, err := e.Run("swapoff", "-a"); err != nil {
				return fmt.Errorf("swapoff -a: %v: %s", err, out)
			}
			old, err := os.ReadFile(fstab)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := hostfs.WriteFileAtomic(backup, old, 0o644); err != nil {
				return err
			}
			return hostfs.WriteFileAtomic(fstab, commentSwap(old), 0o644)
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
