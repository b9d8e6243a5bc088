// Package nodetest is the one fake of package node's Host, for every
// package's tests: a temp dir laid out as a healthy node.
package nodetest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubestrap/kubestrap/node"
)

// FakeHost is a healthy systemd node in a temp dir: reads and writes go
// there, ports count as taken (the flows' tests ignore preflight) and no
// command runs. A test changes what it needs.
func FakeHost(t *testing.T) *node.Host {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"/proc/meminfo": "MemTotal:       24000000 kB\nMemFree: 1 kB\n",
		"/proc/swaps":   "Filename Type Size Used Priority\n",
		"/proc/sys/net/bridge/bridge-nf-call-iptables": "1\n",
		"/proc/sys/net/ipv4/ip_forward":                "1\n",
		"/proc/sys/kernel/osrelease":                   "6.1.0-18-amd64\n",
		"/proc/sys/fs/inotify/max_user_instances":      "8192\n",
		"/proc/sys/fs/inotify/max_user_watches":        "1048576\n",
		"/proc/1/comm":                                 "systemd\n",
		"/etc/machine-id":                              "0123456789abcdef0123456789abcdef\n",
		"/sys/class/dmi/id/product_uuid":               "4c4c4544-0042-3510-8052-b4c04f384d32\n",
		"/proc/net/route": "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n" +
			"enp0s3\t00000000\t0202000A\t0003\t0\t0\t100\t00000000\n",
		"/sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
		"/etc/resolv.conf":                  "nameserver 192.168.56.1\n",
		// CNI plugins as a packaged node has them (containernetworking-plugins).
		"/opt/cni/bin/bridge": "#!", "/opt/cni/bin/host-local": "#!", "/opt/cni/bin/loopback": "#!", "/opt/cni/bin/portmap": "#!",
		"/etc/containerd/config.toml": "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n" +
			"  sandbox_image = \"registry.k8s.io/pause:3.10.1\"\n" +
			"  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n    SystemdCgroup = true\n",
	}
	for p, c := range files {
		WriteFile(t, filepath.Join(root, p), c)
	}
	if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &node.Host{
		Root:       node.Root(root),
		UID:        func() int { return 0 },
		NumCPU:     func() int { return 2 },
		Hostname:   func() (string, error) { return "cp-1", nil },
		LookupHost: func(string) ([]string, error) { return []string{"192.168.56.10"}, nil },
		LookPath:   func(b string) (string, error) { return "/usr/bin/" + b, nil },
		Listen:     func(string, string) (net.Listener, error) { return nil, errors.New("port in use by the test") },
		Run:        func(string, ...string) ([]byte, error) { return nil, errors.New("no commands in tests") },
		CRIVersion: func(context.Context, string) (string, string, error) { return "containerd", "1.6.20", nil },
		Interfaces: func() ([]node.Interface, error) { return nil, nil },
	}
}

// WriteFile writes content to path, making its directory.
func WriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
