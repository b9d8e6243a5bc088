package preflight

import (
	"fmt"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// Minimums for a control-plane node, as kubeadm enforces them.
const (
	MinCPUs     = 2
	MinMemoryMB = 1700
)

type binary struct {
	name, pkg string
	warnOnly  bool
}

var binaries = []binary{
	{"ip", "iproute2 / iproute", false}, {"iptables", "iptables", false}, {"mount", "mount / util-linux", false},
	{"nsenter", "util-linux", false}, {"conntrack", "conntrack / conntrack-tools", true},
	{"ethtool", "ethtool", true}, {"socat", "socat", true}, {"tc", "iproute2 / iproute-tc", true},
}

// nodeChecks are common to every node.
func nodeChecks(e *node.Host, nodeName, criSocket string, minor int) []Checker {
	checks := []Checker{
		PrivilegedUser(e),
		Swap(e),
		FileContent(e, "/proc/sys/net/bridge/bridge-nf-call-iptables", "1",
			"the br_netfilter module is not loaded, so bridged pod traffic bypasses iptables"),
		FileContent(e, "/proc/sys/net/ipv4/ip_forward", "1", "IPv4 forwarding is off"),
		InotifyLimits(e),
		ProductUUID(e),
		MachineID(e),
		Hostname(e, nodeName),
	}
	for _, p := range layout.NodePorts() {
		checks = append(checks, Port(e, p.Number, p.Owner))
	}
	checks = append(checks, DirAvailable(e, layout.ManifestDir))
	for _, b := range binaries {
		checks = append(checks, FileExisting(e, b.name, b.pkg, b.warnOnly))
	}
	return append(checks,
		CRI(e, criSocket, minor),
		CgroupDriver(e),
		SELinux(e),
		KernelVersion(e),
		&CgroupVersion{E: e},
	)
}

// InitChecks are the checks of `kubestrap init` and `kubestrap preflight`.
func InitChecks(e *node.Host, c *config.Init) []Checker {
	v, _ := config.ParseKubernetesVersion(c.Cluster.KubernetesVersion)
	checks := []Checker{NumCPU(e, MinCPUs), Mem(e, MinMemoryMB)}
	checks = append(checks, nodeChecks(e, c.NodeRegistration.Name, c.NodeRegistration.CRISocket, v.Minor)...)
	port := int(c.LocalAPIEndpoint.BindPort)
	for _, p := range layout.ControlPlanePorts(port) {
		checks = append(checks, Port(e, p.Number, p.Owner))
	}
	return append(checks,
		DirAvailable(e, c.Cluster.Etcd.Local.DataDir),
		Firewalld(e, ControlPlanePorts(port)),
	)
}

// JoinChecks are the worker subset run by `kubestrap join`.
func JoinChecks(e *node.Host, c *config.JoinConfiguration, kubernetesMinor int) []Checker {
	checks := nodeChecks(e, c.NodeRegistration.Name, c.NodeRegistration.CRISocket, kubernetesMinor)
	checks = append(checks, Firewalld(e, WorkerPorts()))
	if c.CACertPath != "" {
		checks = append(checks, fileAvailable(e, c.CACertPath), fileAvailable(e, layout.KubeletConfPath))
	}
	return checks
}

// ControlPlaneJoinChecks are what a control-plane join adds to JoinChecks:
// the control plane's ports, and an etcd data dir that is free.
func ControlPlaneJoinChecks(e *node.Host, bindPort int, etcdDataDir string) []Checker {
	var checks []Checker
	for _, p := range layout.ControlPlanePorts(bindPort) {
		checks = append(checks, Port(e, p.Number, p.Owner))
	}
	return append(checks, DirAvailable(e, etcdDataDir), Firewalld(e, ControlPlanePorts(bindPort)))
}

// fileAvailable requires a file to be absent (kubeadm's FileAvailable--).
func fileAvailable(e *node.Host, path string) Checker {
	return simple{layout.FileAvailableCheck(path), func() ([]error, []error) {
		if e.Root.Exists(path) {
			return nil, one(fmt.Errorf("%s already exists: this node was set up before; reset the node first with `kubestrap reset` (it lists what it removes and what it leaves)", path))
		}
		return nil, nil
	}}
}
