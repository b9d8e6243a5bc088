package preflight

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/node/nodetest"
)

const debianContainerd = `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`

const centosContainerd = `#   Copyright 2018-2022 Docker Inc.
disabled_plugins = ["cri"]

#root = "/var/lib/containerd"
`

const systemdContainerd = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10.1"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
`

// fakeEnv is a healthy node: every check passes except the ones a test
// breaks by writing or removing files.
func fakeEnv(t *testing.T) *node.Host {
	t.Helper()
	h := nodetest.FakeHost(t)
	// The checks' tests start from free ports, no CNI plugins and no
	// commands found; each test changes what it needs.
	h.Listen = func(string, string) (net.Listener, error) { return fakeListener{}, nil }
	h.Run = func(string, ...string) ([]byte, error) { return nil, errors.New("not found") }
	if err := os.RemoveAll(h.Root.Path("/opt/cni")); err != nil {
		t.Fatal(err)
	}
	return h
}

type fakeListener struct{ net.Listener }

func (fakeListener) Close() error { return nil }

func write(t *testing.T, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func testInit(t *testing.T) *config.Init {
	t.Helper()
	c := &config.Init{}
	c.NodeRegistration.Name = "cp-1"
	c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	config.SetInitDefaults(c)
	return c
}

func resultOf(t *testing.T, results []Result, name string) Result {
	t.Helper()
	for _, r := range results {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result named %s", name)
	return Result{}
}

func TestHealthyNodePasses(t *testing.T) {
	e := fakeEnv(t)
	results, err := Run(InitChecks(e, testInit(t)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != OK {
			t.Errorf("%s: %s %v %v", r.Name, r.Status, r.Errors, r.Warnings)
		}
	}
	if got := resultOf(t, results, "CgroupDriver").Info; got != "containerd uses systemd" {
		t.Errorf("cgroup driver info %q", got)
	}
	if got := resultOf(t, results, "CRI").Info; got != "containerd 1.6.20" {
		t.Errorf("CRI info %q", got)
	}
}

// Each case breaks one thing on a healthy node and names the check that
// must fail (or warn) and a piece of its message.
func TestBrokenNode(t *testing.T) {
	tests := []struct {
		name   string
		breaks func(t *testing.T, e *node.Host)
		check  string
		status Status
		want   string
	}{
		{"not root", func(_ *testing.T, e *node.Host) { e.UID = func() int { return 1000 } }, "IsPrivilegedUser", Failed, "sudo"},
		{"one cpu", func(_ *testing.T, e *node.Host) { e.NumCPU = func() int { return 1 } }, "NumCPU", Failed, "has 1 CPU"},
		{"little memory", func(t *testing.T, e *node.Host) { write(t, string(e.Root), "/proc/meminfo", "MemTotal: 1000000 kB\n") },
			"Mem", Failed, "976 MB"},
		{"swap on", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/proc/swaps", "Filename Type Size Used Priority\n/swapfile file 1 0 -2\n")
		}, "Swap", Failed, "swapoff -a"},
		{"no br_netfilter", func(t *testing.T, e *node.Host) {
			_ = os.Remove(e.Root.Path("/proc/sys/net/bridge/bridge-nf-call-iptables"))
		}, "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables", Failed, "/etc/modules-load.d/kubestrap.conf"},
		{"forwarding off", func(t *testing.T, e *node.Host) { write(t, string(e.Root), "/proc/sys/net/ipv4/ip_forward", "0\n") },
			"FileContent--proc-sys-net-ipv4-ip_forward", Failed, "net.ipv4.ip_forward = 1"},
		{"no product_uuid", func(t *testing.T, e *node.Host) { _ = os.RemoveAll(e.Root.Path("/sys/class/dmi")) },
			"ProductUUID", Warning, "/etc/machine-id instead"},
		{"unreadable product_uuid", func(t *testing.T, e *node.Host) {
			p := e.Root.Path("/sys/class/dmi/id/product_uuid")
			_ = os.Remove(p)
			_ = os.Mkdir(p, 0o755) // reading a directory fails the way an unreadable file does
		}, "ProductUUID", Failed, "cannot be read"},
		{"zero product_uuid", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/sys/class/dmi/id/product_uuid", "00000000-0000-0000-0000-000000000000\n")
		}, "ProductUUID", Warning, "placeholder"},
		{"placeholder product_uuid", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/sys/class/dmi/id/product_uuid", "03000200-0400-0500-0006-000700080009\n")
		}, "ProductUUID", Warning, "cloned VMs share"},
		{"empty machine-id", func(t *testing.T, e *node.Host) { write(t, string(e.Root), "/etc/machine-id", "\n") },
			"MachineID", Failed, "systemd-machine-id-setup"},
		{"no machine-id", func(t *testing.T, e *node.Host) { _ = os.Remove(e.Root.Path("/etc/machine-id")) },
			"MachineID", Failed, "does not exist"},
		{"bad node name", func(_ *testing.T, e *node.Host) {}, "Hostname", Failed, "DNS-1123"},
		{"unresolvable host", func(_ *testing.T, e *node.Host) {
			e.LookupHost = func(string) ([]string, error) { return nil, errors.New("no such host") }
		}, "Hostname", Warning, "/etc/hosts"},
		{"manifests left", func(t *testing.T, e *node.Host) { write(t, string(e.Root), "/etc/kubernetes/manifests/etcd.yaml", "x") },
			"DirAvailable--etc-kubernetes-manifests", Failed, "etcd.yaml"},
		{"etcd data left", func(t *testing.T, e *node.Host) { write(t, string(e.Root), "/var/lib/etcd/member/wal", "x") },
			"DirAvailable--var-lib-etcd", Failed, "not empty"},
		{"no iptables", func(_ *testing.T, e *node.Host) { e.LookPath = lookPathWithout("iptables") },
			"FileExisting-iptables", Failed, "package iptables"},
		{"no socat", func(_ *testing.T, e *node.Host) { e.LookPath = lookPathWithout("socat") },
			"FileExisting-socat", Warning, "socat not found"},
		{"CRI disabled", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/etc/containerd/config.toml", centosContainerd)
		},
			"CRI", Failed, `remove "cri" from disabled_plugins`},
		{"CRI not served", func(_ *testing.T, e *node.Host) {
			e.CRIVersion = func(context.Context, string) (string, string, error) {
				return "", "", errors.New("rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService")
			}
		}, "CRI", Failed, "does not serve CRI"},
		{"containerd down", func(_ *testing.T, e *node.Host) {
			e.CRIVersion = func(context.Context, string) (string, string, error) {
				return "", "", errors.New("dial unix /var/run/containerd/containerd.sock: connect: no such file or directory")
			}
		}, "CRI", Failed, "systemctl enable --now containerd"},
		{"cgroupfs under systemd", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/etc/containerd/config.toml", debianContainerd)
		},
			"CgroupDriver", Warning, "SystemdCgroup = true"},
		{"inotify limits low", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/proc/sys/fs/inotify/max_user_instances", "128\n")
		}, "InotifyLimits", Warning, "sysctl -w fs.inotify.max_user_instances=512`"},
		{"inotify watches low", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/proc/sys/fs/inotify/max_user_watches", "8192\n")
		}, "InotifyLimits", Warning, "fs.inotify.max_user_watches=524288"},
		{"selinux enforcing", func(t *testing.T, e *node.Host) { write(t, string(e.Root), "/sys/fs/selinux/enforce", "1") },
			"SELinux", Warning, "setenforce 0"},
		{"centos 7 kernel", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/proc/sys/kernel/osrelease", "3.10.0-1160.el7.x86_64")
		}, "KernelVersion", Warning, "supported with limits"},
		{"ancient kernel", func(t *testing.T, e *node.Host) {
			write(t, string(e.Root), "/proc/sys/kernel/osrelease", "2.6.32-754.el6")
		},
			"KernelVersion", Failed, "older than 3.10"},
		{"cgroup v1", func(t *testing.T, e *node.Host) { _ = os.Remove(e.Root.Path("/sys/fs/cgroup/cgroup.controllers")) },
			"SystemVerification-CgroupVersion", Warning, "failCgroupV1: false"},
		{"port taken", func(_ *testing.T, e *node.Host) {
			e.Listen = func(_, addr string) (net.Listener, error) {
				if addr == ":6443" {
					return nil, errors.New("address already in use")
				}
				return fakeListener{}, nil
			}
		}, "Port-6443", Failed, "port 6443 (kube-apiserver) is in use"},
		{"firewalld closed", func(_ *testing.T, e *node.Host) {
			e.Run = func(name string, args ...string) ([]byte, error) {
				if args[0] == "--state" {
					return []byte("running\n"), nil
				}
				return []byte("6443/tcp 10250/tcp\n"), nil
			}
		}, "Firewalld", Warning, "firewall-cmd --permanent --add-port=2379-2380/tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := fakeEnv(t)
			tt.breaks(t, e)
			c := testInit(t)
			if tt.name == "bad node name" {
				c.NodeRegistration.Name = "CP_1"
			}
			results, err := Run(InitChecks(e, c), nil)
			r := resultOf(t, results, tt.check)
			if r.Status != tt.status {
				t.Fatalf("%s status %s, want %s (%v %v)", tt.check, r.Status, tt.status, r.Errors, r.Warnings)
			}
			msgs := strings.Join(append(r.Errors, r.Warnings...), " ")
			if !strings.Contains(msgs, tt.want) {
				t.Errorf("%s message %q lacks %q", tt.check, msgs, tt.want)
			}
			if (tt.status == Failed) != (err != nil) {
				t.Errorf("Run error %v for status %s", err, tt.status)
			}
			for _, other := range results {
				if other.Name != tt.check && other.Status == Failed {
					t.Errorf("unrelated check %s failed: %v", other.Name, other.Errors)
				}
			}
		})
	}
}

func lookPathWithout(missing string) func(string) (string, error) {
	return func(b string) (string, error) {
		if b == missing {
			return "", errors.New("not found")
		}
		return "/usr/bin/" + b, nil
	}
}

func TestRealPortIsDetected(t *testing.T) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	port := l.Addr().(*net.TCPAddr).Port
	e := node.Real()
	_, errs := Port(e, port, "test").Check()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), strconv.Itoa(port)) {
		t.Errorf("taken port %d not reported: %v", port, errs)
	}
	_ = l.Close()
	if _, errs := Port(e, port, "test").Check(); len(errs) != 0 {
		t.Errorf("free port reported: %v", errs)
	}
}

func TestIgnoreHandledInOnePlace(t *testing.T) {
	e := fakeEnv(t)
	e.NumCPU = func() int { return 1 }
	write(t, string(e.Root), "/proc/swaps", "Filename Type\n/dev/sda2 partition\n")
	checks := InitChecks(e, testInit(t))
	_, err := Run(checks, NewIgnoreSet("NumCPU"))
	var pe *Error
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Name != "Swap" {
		t.Fatalf("want only Swap to fail, got %v", err)
	}
	if !strings.Contains(err.Error(), "--ignore-preflight-errors=Swap") {
		t.Errorf("error does not say how to ignore: %v", err)
	}
	results, err := Run(checks, NewIgnoreSet("swap,numcpu"))
	if err != nil {
		t.Fatalf("case-insensitive, comma-separated ignore failed: %v", err)
	}
	if resultOf(t, results, "Swap").Status != Ignored {
		t.Error("Swap not marked ignored")
	}
	if _, err := Run(checks, NewIgnoreSet("all")); err != nil {
		t.Errorf("all: %v", err)
	}
	if u := NewIgnoreSet("Swap", "NumCPUs").Unknown(checks); len(u) != 1 || u[0] != "numcpus" {
		t.Errorf("unknown ignore names %v", u)
	}
}

func TestParseContainerdConfig(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		disabled bool
		driver   string
		sandbox  string
	}{
		{"debian", debianContainerd, false, "cgroupfs", ""},
		{"centos containerd.io", centosContainerd, true, "cgroupfs", ""},
		{"systemd", systemdContainerd, false, "systemd", "registry.k8s.io/pause:3.10.1"},
		{"v1 config", "[plugins.cri]\n  sandbox_image = \"p:1\"\n[plugins.cri.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n",
			false, "systemd", "p:1"},
		{"v3 config", "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n" +
			"[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = \"p:2\"\n", false, "systemd", "p:2"},
	}
	for _, tt := range tests {
		c, err := ParseContainerdConfig([]byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if c.CRIDisabled() != tt.disabled || c.CgroupDriver() != tt.driver || c.SandboxImage != tt.sandbox {
			t.Errorf("%s: disabled=%v driver=%s sandbox=%q", tt.name, c.CRIDisabled(), c.CgroupDriver(), c.SandboxImage)
		}
	}
	if _, err := ParseContainerdConfig([]byte("version = [")); err == nil {
		t.Error("bad TOML accepted")
	}
}

func TestContainerd1RefusesKubernetes136(t *testing.T) {
	e := fakeEnv(t)
	_, errs := CRI(e, config.DefaultCRISocket, 36).Check()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "needs containerd 2.x") {
		t.Errorf("got %v", errs)
	}
	e.CRIVersion = func(context.Context, string) (string, string, error) { return "containerd", "v2.1.4", nil }
	if _, errs := CRI(e, config.DefaultCRISocket, 36).Check(); len(errs) != 0 {
		t.Errorf("containerd 2 refused: %v", errs)
	}
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestChooseAdvertiseAddress(t *testing.T) {
	lo := node.Interface{Name: "lo", Addrs: addrs("127.0.0.1")}
	nat := node.Interface{Name: "enp0s3", Addrs: addrs("10.0.2.15")}
	docker := node.Interface{Name: "docker0", Addrs: addrs("172.17.0.1")}
	hostOnly := node.Interface{Name: "enp0s8", Addrs: addrs("192.168.56.10")}
	second := node.Interface{Name: "enp0s9", Addrs: addrs("192.168.57.10")}
	tests := []struct {
		name    string
		def     string
		ifs     []node.Interface
		want    string
		wantErr string
		note    string
	}{
		{"plain", "eth0", []node.Interface{lo, {Name: "eth0", Addrs: addrs("192.168.1.20", "fe80::1")}, docker}, "192.168.1.20", "", "default-route"},
		{"vagrant", "enp0s3", []node.Interface{lo, nat, hostOnly, docker}, "192.168.56.10", "", "VirtualBox NAT"},
		{"vagrant two nets", "enp0s3", []node.Interface{lo, nat, hostOnly, second}, "", "192.168.56.10 (enp0s8), 192.168.57.10 (enp0s9)", ""},
		{"nat only", "enp0s3", []node.Interface{lo, nat}, "10.0.2.15", "", "other nodes cannot reach"},
		{"no route", "", []node.Interface{lo, hostOnly}, "192.168.56.10", "", "no default route"},
		{"nothing", "", []node.Interface{lo}, "", "--apiserver-advertise-address", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := node.ChooseAdvertiseAddress(tt.def, tt.ifs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Addr.String() != tt.want || !strings.Contains(got.Note, tt.note) {
				t.Errorf("got %v %q %v, want %s with note %q", got.Addr, got.Note, err, tt.want, tt.note)
			}
		})
	}
}

func TestDefaultRouteInterface(t *testing.T) {
	e := fakeEnv(t)
	if got, err := node.DefaultRouteInterface(e); err != nil || got != "enp0s3" {
		t.Errorf("got %q %v", got, err)
	}
	write(t, string(e.Root), "/proc/net/route", "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n")
	if _, err := node.DefaultRouteInterface(e); err == nil {
		t.Error("want an error without a default route")
	}
}

func TestJoinChecksSubset(t *testing.T) {
	e := fakeEnv(t)
	jc := &config.JoinConfiguration{}
	jc.NodeRegistration.Name = "worker-1"
	config.SetJoinDefaults(jc)
	names := map[string]bool{}
	for _, c := range JoinChecks(e, jc, 35) {
		names[c.Name()] = true
	}
	if names["Port-6443"] || names["NumCPU"] || !names["Port-10250"] || !names["MachineID"] || !names["InotifyLimits"] ||
		!names["FileAvailable--etc-kubernetes-pki-ca.crt"] {
		t.Errorf("join checks %v", names)
	}
	write(t, string(e.Root), "/etc/kubernetes/pki/ca.crt", "x")
	results, err := Run(JoinChecks(e, jc, 35), nil)
	if err == nil || resultOf(t, results, "FileAvailable--etc-kubernetes-pki-ca.crt").Status != Failed {
		t.Error("existing ca.crt not refused on join")
	}
}
