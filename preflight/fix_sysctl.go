package preflight

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kubestrap/kubestrap/node"
)

// Drop-ins the fixes own. They are kubestrap's own files, so that --fix
// never overwrites an admin's k8s.conf; 99- makes the sysctls win over
// distribution defaults.
const (
	ModulesFile = "/etc/modules-load.d/kubestrap.conf"
	SysctlFile  = "/etc/sysctl.d/99-kubestrap.conf"
)

// Inotify limits a kubelet needs: it and its pods' log tailers and
// config watchers each take instances, and node containers on one kernel
// share the per-user budget (distributions default to 128 instances).
const (
	MinInotifyInstances = 512
	MinInotifyWatches   = 524288
)

const modulesContent = "# written by kubestrap: modules Kubernetes networking needs\noverlay\nbr_netfilter\n"

// sysctl is a kernel setting a node needs at least min of.
type sysctl struct {
	key  string
	min  int
	hint string // why setting it live may fail
	// optional settings go in SysctlFile only when the host is short of
	// them, so that --fix does not pin a limit the admin manages.
	optional bool
}

const sharedKernelHint = "node containers share the host's kernel: set it on the host"

var inotifySysctls = []sysctl{
	{"fs.inotify.max_user_instances", MinInotifyInstances, sharedKernelHint, true},
	{"fs.inotify.max_user_watches", MinInotifyWatches, sharedKernelHint, true},
}

var sysctls = append([]sysctl{
	{"net.bridge.bridge-nf-call-iptables", 1, "is br_netfilter loaded?", false},
	{"net.bridge.bridge-nf-call-ip6tables", 1, "is br_netfilter loaded?", false},
	{"net.ipv4.ip_forward", 1, "/proc/sys may be read-only in a container", false},
}, inotifySysctls...)

func (s sysctl) path() string { return "/proc/sys/" + strings.ReplaceAll(s.key, ".", "/") }

// low reports a live value below min; unreadable counts as low.
func (s sysctl) low(e *node.Host) bool {
	v, err := e.Root.ReadString(s.path())
	n, perr := strconv.Atoi(v)
	return err != nil || perr != nil || n < s.min
}

func (s sysctl) String() string { return s.key + " = " + strconv.Itoa(s.min) }

// sysctlContent is SysctlFile's wanted text. An optional setting already
// in the file stays, which keeps the fix idempotent once it is set live.
func sysctlContent(e *node.Host, old string) string {
	var b strings.Builder
	b.WriteString("# written by kubestrap: bridged pod traffic through iptables, routing, inotify limits\n")
	for _, s := range sysctls {
		if !s.optional || s.low(e) || strings.Contains(old, s.key+" = ") {
			b.WriteString(s.String() + "\n")
		}
	}
	return b.String()
}

func modulesFix(e *node.Host, o FixOptions) []Fix {
	if b, err := e.Root.ReadFile(ModulesFile); err == nil && strings.Contains(string(b), "br_netfilter") {
		return nil
	}
	path := e.Root.Path(ModulesFile)
	backup := backupName(path, o.Now)
	return []Fix{{Name: "kernel-modules", Changes: []string{"write " + ModulesFile + " (overlay, br_netfilter)",
		"modprobe overlay br_netfilter"}, Revert: restoreText(e, ModulesFile, backup),
		Apply: func() error {
			if err := writeFixFile(path, backup, []byte(modulesContent)); err != nil {
				return err
			}
			return loadModules(e)
		}}}
}

// loadModules tolerates a failing modprobe when the bridge sysctls exist:
// containers and some VMs have no modules to load, and the sysctls are
// what the sysctl fix needs.
func loadModules(e *node.Host) error {
	if _, err := e.LookPath("modprobe"); err != nil {
		return nil
	}
	for _, m := range []string{"overlay", "br_netfilter"} {
		if _, err := e.Run("modprobe", m); err != nil && !e.Root.Exists("/proc/sys/net/bridge/bridge-nf-call-iptables") {
			return err
		}
	}
	return nil
}

func sysctlFix(e *node.Host, o FixOptions) []Fix {
	old, _ := e.Root.ReadFile(SysctlFile)
	want := sysctlContent(e, string(old))
	var live []string
	var set []sysctl
	for _, s := range sysctls {
		if s.low(e) {
			set, live = append(set, s), append(live, s.String())
		}
	}
	if string(old) == want && len(set) == 0 {
		return nil
	}
	changes := []string{"write " + SysctlFile}
	if len(set) > 0 {
		changes = append(changes, "set "+strings.Join(live, ", ")+" now")
	}
	path := e.Root.Path(SysctlFile)
	backup := backupName(path, o.Now)
	return []Fix{{Name: "sysctl", Changes: changes, Revert: restoreText(e, SysctlFile, backup) + " && sysctl --system",
		Apply: func() error {
			if err := writeFixFile(path, backup, []byte(want)); err != nil {
				return err
			}
			return setLive(e, set)
		}}}
}

func setLive(e *node.Host, set []sysctl) error {
	for _, s := range set {
		if err := os.WriteFile(e.Root.Path(s.path()), []byte(strconv.Itoa(s.min)+"\n"), 0o644); err != nil {
			return fmt.Errorf("set %s: %w (%s)", s.key, err, s.hint)
		}
	}
	return nil
}
