package preflight

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// Port requires a TCP port to be free, by really binding it: reading
// /proc/net/tcp misses ports held by other network namespaces' proxies.
func Port(e *node.Host, port int, owner string) Checker {
	return simple{layout.PortCheck(port), func() ([]error, []error) {
		l, err := e.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			return nil, one(fmt.Errorf("port %d (%s) is in use: stop what holds it (`ss -ltnp 'sport = :%d'` "+
				"shows the process); if it is an earlier cluster, reset the node first with `kubestrap reset` (it lists what it removes and what it leaves)", port, owner, port))
		}
		_ = l.Close()
		return nil, nil
	}}
}

// SELinux warns when SELinux is enforcing: without container-selinux's
// policy, static pods cannot read /etc/kubernetes/pki.
func SELinux(e *node.Host) Checker {
	return simple{"SELinux", func() ([]error, []error) {
		v, err := e.Root.ReadString("/sys/fs/selinux/enforce")
		if err != nil || v != "1" {
			return nil, nil
		}
		return one(errors.New("SELinux is enforcing: control-plane pods need the container-selinux policy " +
			"(`yum install -y container-selinux`), or set permissive mode with `setenforce 0` and " +
			"SELINUX=permissive in /etc/selinux/config")), nil
	}}
}

// FirewallPort is a port or range and protocol a node needs open.
type FirewallPort struct {
	Port  string // "6443" or "30000-32767"
	Proto string // "tcp" or "udp"
	What  string
}

func (p FirewallPort) String() string { return p.Port + "/" + p.Proto }

// ControlPlanePorts are what other nodes and users reach on a control-plane node.
func ControlPlanePorts(apiPort int) []FirewallPort {
	return []FirewallPort{
		{strconv.Itoa(apiPort), "tcp", "kube-apiserver"},
		{strconv.Itoa(layout.EtcdClientPort) + "-" + strconv.Itoa(layout.EtcdPeerPort), "tcp", "etcd"},
		{strconv.Itoa(layout.KubeletPort), "tcp", "kubelet"},
		{strconv.Itoa(layout.ControllerManagerPort), "tcp", "kube-controller-manager"},
		{strconv.Itoa(layout.SchedulerPort), "tcp", "kube-scheduler"},
		{strconv.Itoa(layout.FlannelVXLANPort), "udp", "flannel vxlan"},
	}
}

// WorkerPorts are what a worker node needs open.
func WorkerPorts() []FirewallPort {
	return []FirewallPort{{strconv.Itoa(layout.KubeletPort), "tcp", "kubelet"}, {"30000-32767", "tcp", "NodePort services"},
		{strconv.Itoa(layout.FlannelVXLANPort), "udp", "flannel vxlan"}}
}

// Firewalld warns, with the exact firewall-cmd commands, when firewalld
// runs and does not open the ports the node needs (CentOS 7 ships it on).
func Firewalld(e *node.Host, ports []FirewallPort) Checker {
	return simple{"Firewalld", func() ([]error, []error) {
		if _, err := e.LookPath("firewall-cmd"); err != nil {
			return nil, nil
		}
		out, err := e.Run("firewall-cmd", "--state")
		if err != nil || strings.TrimSpace(string(out)) != "running" {
			return nil, nil
		}
		open, _ := e.Run("firewall-cmd", "--list-ports")
		have := map[string]bool{}
		for _, p := range strings.Fields(string(open)) {
			have[p] = true
		}
		var cmds []string
		for _, p := range ports {
			if !have[p.String()] {
				cmds = append(cmds, "firewall-cmd --permanent --add-port="+p.String())
			}
		}
		if len(cmds) == 0 {
			return nil, nil
		}
		return one(fmt.Errorf("firewalld is running and these ports are closed; open them with:\n      %s\n      "+
			"firewall-cmd --reload", strings.Join(cmds, "\n      "))), nil
	}}
}

var kernelRE = regexp.MustCompile(`^(\d+)\.(\d+)`)

// KernelVersion refuses kernels older than 3.10 and warns for 3.10-4.4
// (CentOS 7's 3.10 works, without newer cgroup and overlayfs features).
func KernelVersion(e *node.Host) Checker {
	return simple{"KernelVersion", func() ([]error, []error) {
		v, err := e.Root.ReadString("/proc/sys/kernel/osrelease")
		if err != nil {
			return one(fmt.Errorf("cannot read the kernel version: %v", err)), nil
		}
		m := kernelRE.FindStringSubmatch(v)
		if m == nil {
			return one(fmt.Errorf("cannot parse kernel version %q", v)), nil
		}
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		switch {
		case major < 3 || (major == 3 && minor < 10):
			return nil, one(fmt.Errorf("kernel %s is older than 3.10, the oldest Kubernetes runs on: upgrade it", v))
		case major == 3 || (major == 4 && minor < 5):
			return one(fmt.Errorf("kernel %s is supported with limits (no cgroup v2, older overlayfs); "+
				"a 4.5+ or 5.x kernel is recommended", v)), nil
		}
		return nil, nil
	}}
}

// CgroupVersion reports cgroup v1 or v2. On v1 it warns that Kubernetes
// v1.35 deprecates it and that kubestrap sets failCgroupV1: false.
type CgroupVersion struct {
	E       *node.Host
	version int
}

// Name implements Checker.
func (c *CgroupVersion) Name() string { return "SystemVerification-CgroupVersion" }

// Check implements Checker.
func (c *CgroupVersion) Check() ([]error, []error) {
	c.version = DetectCgroupVersion(c.E)
	if c.version == 1 {
		return one(errors.New("cgroup v1 is in use: Kubernetes v1.35 keeps it only with the kubelet setting " +
			"failCgroupV1: false, which kubestrap sets; plan a move to cgroup v2 (systemd.unified_cgroup_hierarchy=1)")), nil
	}
	return nil, nil
}

// Info implements Informer.
func (c *CgroupVersion) Info() string { return "cgroup v" + strconv.Itoa(c.version) }

// DetectCgroupVersion returns 2 when /sys/fs/cgroup is the unified
// hierarchy, else 1 (hybrid hosts count as v1: the kubelet uses v1 there).
func DetectCgroupVersion(e *node.Host) int {
	if _, err := e.Root.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return 2
	}
	return 1
}
