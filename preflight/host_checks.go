package preflight

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// simple adapts a function to a Checker.
type simple struct {
	name string
	fn   func() (warnings, errs []error)
}

func (s simple) Name() string                    { return s.name }
func (s simple) Check() (warnings, errs []error) { return s.fn() }

func one(err error) []error {
	if err == nil {
		return nil
	}
	return []error{err}
}

// PrivilegedUser requires root: kubestrap writes /etc/kubernetes and
// manages systemd units.
func PrivilegedUser(e *node.Host) Checker {
	return simple{"IsPrivilegedUser", func() ([]error, []error) {
		if e.UID() != 0 {
			return nil, one(errors.New("kubestrap must run as root: use sudo"))
		}
		return nil, nil
	}}
}

// NumCPU requires two CPUs: the control plane does not fit in one.
func NumCPU(e *node.Host, min int) Checker {
	return simple{"NumCPU", func() ([]error, []error) {
		if n := e.NumCPU(); n < min {
			return nil, one(fmt.Errorf("the node has %d CPU(s); at least %d are required (give the VM more vCPUs)", n, min))
		}
		return nil, nil
	}}
}

// Mem requires enough memory for a control plane (kubeadm: 1700 MB).
func Mem(e *node.Host, minMB int) Checker {
	return simple{"Mem", func() ([]error, []error) {
		b, err := e.Root.ReadFile("/proc/meminfo")
		if err != nil {
			return nil, one(fmt.Errorf("read /proc/meminfo: %w", err))
		}
		kb, err := memTotalKB(b)
		if err != nil {
			return nil, one(err)
		}
		if mb := int(kb / 1024); mb < minMB {
			return nil, one(fmt.Errorf("the node has %d MB of memory; at least %d MB are required", mb, minMB))
		}
		return nil, nil
	}}
}

func memTotalKB(meminfo []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}

// Swap requires swap off: the kubelet refuses to start with swap on by
// default, and a kubelet that never starts is a slow way to learn that.
func Swap(e *node.Host) Checker {
	return simple{"Swap", func() ([]error, []error) {
		b, err := e.Root.ReadFile("/proc/swaps")
		if err != nil {
			return one(fmt.Errorf("cannot read /proc/swaps (%v); make sure swap is off", err)), nil
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 1 {
			var devs []string
			for _, l := range lines[1:] {
				if f := strings.Fields(l); len(f) > 0 {
					devs = append(devs, f[0])
				}
			}
			return nil, one(fmt.Errorf("swap is on (%s): run `swapoff -a` and comment out the swap line(s) "+
				"in /etc/fstab so it stays off after a reboot (`kubestrap preflight --fix` does both)",
				strings.Join(devs, ", ")))
		}
		return nil, nil
	}}
}

// BridgeNetfilterFix is the exact text that makes br_netfilter and the
// sysctls stick across reboots. It names the files --fix writes, so that
// following it by hand leaves an admin's own k8s.conf alone too.
const BridgeNetfilterFix = "run:\n" +
	"      printf 'overlay\\nbr_netfilter\\n' > " + ModulesFile + "\n" +
	"      modprobe overlay && modprobe br_netfilter\n" +
	"      printf 'net.bridge.bridge-nf-call-iptables = 1\\nnet.bridge.bridge-nf-call-ip6tables = 1\\nnet.ipv4.ip_forward = 1\\n' > " + SysctlFile + "\n" +
	"      sysctl --system"

// FileContent requires a /proc/sys value, with kubeadm's check name
// FileContent--proc-sys-..., and the modules-load.d/sysctl.d fix.
func FileContent(e *node.Host, path, want, why string) Checker {
	name := "FileContent-" + strings.ReplaceAll(path, "/", "-")
	return simple{name, func() ([]error, []error) {
		got, err := e.Root.ReadString(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, one(fmt.Errorf("%s does not exist: %s; %s", path, why, BridgeNetfilterFix))
		}
		if err != nil {
			return nil, one(fmt.Errorf("read %s: %w", path, err))
		}
		if got != want {
			return nil, one(fmt.Errorf("%s is %s, must be %s; %s", path, got, want, BridgeNetfilterFix))
		}
		return nil, nil
	}}
}

// InotifyLimits warns when the kernel's inotify limits are below what a
// kubelet needs. Node containers share one kernel, so their kubelets and
// pods draw on one budget; when it runs out, pods fail with "too many open
// files". It never errors: a single VM with the defaults usually copes.
func InotifyLimits(e *node.Host) Checker {
	return simple{"InotifyLimits", func() ([]error, []error) {
		var low, set []string
		for _, s := range inotifySysctls {
			if s.low(e) {
				v, _ := e.Root.ReadString(s.path())
				low = append(low, fmt.Sprintf("%s is %q, below %d", s.key, v, s.min))
				set = append(set, s.key+"="+strconv.Itoa(s.min))
			}
		}
		if len(low) == 0 {
			return nil, nil
		}
		return one(fmt.Errorf("%s: run `sysctl -w %s` and add the settings to %s (`kubestrap preflight --fix` "+
			"does both); node containers share the host's kernel, so set them on the host",
			strings.Join(low, ", "), strings.Join(set, " "), SysctlFile)), nil
	}}
}

// Placeholder product UUIDs that firmware or VM templates ship with. Two
// nodes with one of these look like clones to anything keyed on it.
var placeholderUUIDs = map[string]bool{
	"00000000-0000-0000-0000-000000000000": true,
	"ffffffff-ffff-ffff-ffff-ffffffffffff": true,
	"03000200-0400-0500-0006-000700080009": true, // common AMI/Supermicro default
	"not settable":                         true,
	"not present":                          true,
	"default string":                       true,
}

// ProductUUID reads the DMI product UUID. Missing is a warning (many VMs,
// Firecracker among them, have no DMI): node identity then falls back to
// /etc/machine-id. Unreadable is an error. A placeholder UUID is flagged
// because cloned templates share it.
func ProductUUID(e *node.Host) Checker {
	const path = "/sys/class/dmi/id/product_uuid"
	return simple{"ProductUUID", func() ([]error, []error) {
		v, err := e.Root.ReadString(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return one(fmt.Errorf("%s does not exist (no DMI on this VM): kubestrap identifies the node by "+
				"/etc/machine-id instead", path)), nil
		case err != nil:
			return nil, one(fmt.Errorf("%s exists but cannot be read (%v): run as root", path, err))
		case IsPlaceholderUUID(v):
			return one(fmt.Errorf("product_uuid %q is a firmware placeholder that cloned VMs share: "+
				"kubestrap identifies the node by /etc/machine-id instead; give the VM a unique UUID "+
				"(VirtualBox: VBoxManage modifyvm NAME --hardwareuuid <new uuid>)", v)), nil
		}
		return nil, nil
	}}
}

// IsPlaceholderUUID reports a product_uuid that cannot identify a machine.
func IsPlaceholderUUID(v string) bool {
	return v == "" || placeholderUUIDs[strings.ToLower(strings.TrimSpace(v))]
}

var machineIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// MachineID requires a well-formed /etc/machine-id: the node's identity
// when there is no usable product_uuid.
func MachineID(e *node.Host) Checker {
	return simple{"MachineID", func() ([]error, []error) {
		v, err := e.Root.ReadString("/etc/machine-id")
		fix := "run `rm -f /etc/machine-id && systemd-machine-id-setup`"
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, one(errors.New("/etc/machine-id does not exist: " + fix))
		case err != nil:
			return nil, one(fmt.Errorf("read /etc/machine-id: %w", err))
		case v == "":
			return nil, one(errors.New("/etc/machine-id is empty (a template that was prepared for cloning " +
				"and never booted): " + fix))
		case !machineIDRE.MatchString(v):
			return nil, one(fmt.Errorf("/etc/machine-id %q is not 32 lower-case hex characters: %s", v, fix))
		}
		return nil, nil
	}}
}

// Hostname checks the node name is a valid DNS-1123 subdomain and that the
// host's name resolves (the kubelet and API server look it up).
func Hostname(e *node.Host, nodeName string) Checker {
	return simple{"Hostname", func() ([]error, []error) {
		var warns, errs []error
		if problems := validation.IsDNS1123Subdomain(nodeName); len(problems) > 0 {
			errs = append(errs, fmt.Errorf("node name %q is not a valid DNS-1123 subdomain (%s): set a lower-case "+
				"host name with `hostnamectl set-hostname NAME` or pass --node-name", nodeName, strings.Join(problems, "; ")))
		}
		host, err := e.Hostname()
		if err != nil {
			return warns, append(errs, fmt.Errorf("read host name: %w", err))
		}
		if _, err := e.LookupHost(host); err != nil {
			warns = append(warns, fmt.Errorf("host name %q does not resolve (%v): add it to /etc/hosts, e.g. "+
				"`echo \"<node IP> %s\" >> /etc/hosts`", host, err, host))
		}
		return warns, errs
	}}
}

// DirAvailable requires a directory to be absent or empty, with kubeadm's
// name DirAvailable--<path>: a leftover manifest or etcd member from an
// earlier cluster would be adopted silently.
func DirAvailable(e *node.Host, path string) Checker {
	name := layout.DirAvailableCheck(path)
	return simple{name, func() ([]error, []error) {
		entries, err := readDir(e.Root.Path(path))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, one(fmt.Errorf("read %s: %w", path, err))
		}
		if len(entries) > 0 {
			return nil, one(fmt.Errorf("%s is not empty (%s): a previous cluster's files are there; move the directory "+
				"away, or reset the node first with `kubestrap reset` (it lists what it removes and what it leaves)", path, strings.Join(first(entries, 3), ", ")))
		}
		return nil, nil
	}}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "...")
	}
	return s
}

// FileExisting requires (or, with warnOnly, recommends) a binary in PATH.
func FileExisting(e *node.Host, bin, pkg string, warnOnly bool) Checker {
	return simple{"FileExisting-" + bin, func() ([]error, []error) {
		if _, err := e.LookPath(bin); err != nil {
			msg := fmt.Errorf("%s not found in PATH: install it (package %s)", bin, pkg)
			if warnOnly {
				return one(msg), nil
			}
			return nil, one(msg)
		}
		return nil, nil
	}}
}
