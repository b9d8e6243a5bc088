package kubelet

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with testdata/<name>.golden byte for byte, or
// rewrites the file when the test runs with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./components/kubelet -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s: %s (run go test ./components/kubelet -update after checking the change)",
			name, golden, firstDiff(got, want))
	}
}

// firstDiff describes the first line where got and want part.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		switch {
		case i >= len(g):
			return fmt.Sprintf("line %d: got end of output, want %q", i+1, w[i])
		case i >= len(w):
			return fmt.Sprintf("line %d: got %q, want end of file", i+1, g[i])
		case g[i] != w[i]:
			return fmt.Sprintf("line %d: got %q, want %q", i+1, g[i], w[i])
		}
	}
	return "no line differs"
}

// TestGoldenKubeletConfig renders the kubelet's config.yaml and flags file
// as init does (see phases' nodeKubeletParams), with the host-dependent
// inputs (cgroup driver and version, resolver file) fixed.
func TestGoldenKubeletConfig(t *testing.T) {
	cases := []struct {
		name         string
		cgroupV1     bool
		cgroupDriver string
		resolvConf   string
		extraArgs    []config.Arg
	}{
		// A systemd-resolved host on cgroup v1 (CentOS 7, older VMs).
		{"cgroupv1-systemd", true, "systemd", "/run/systemd/resolve/resolv.conf", nil},
		// A container (the lab): cgroup v2, cgroupfs, only Docker's
		// loopback DNS, so pods get no upstream resolver.
		{"cgroupv2-cgroupfs", false, "cgroupfs", "", []config.Arg{{Name: "v", Value: "2"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.LoadInit("", func(c *config.Init) {
				c.NodeRegistration.Name = "cp-1"
				c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
				c.NodeRegistration.KubeletExtraArgs = tc.extraArgs
			})
			if err != nil {
				t.Fatal(err)
			}
			dns, err := ClusterDNSIP(c.Cluster.Networking.ServiceSubnet)
			if err != nil {
				t.Fatal(err)
			}
			p := Params{ClusterDNS: dns, ClusterDomain: c.Cluster.Networking.DNSDomain,
				ClientCAFile: filepath.Join(c.Cluster.CertificatesDir, "ca.crt"), CgroupDriver: tc.cgroupDriver,
				CgroupV1: tc.cgroupV1, CRIEndpoint: c.NodeRegistration.CRISocket, ResolvConf: tc.resolvConf}
			flags := Flags(c.LocalAPIEndpoint.AdvertiseAddress, c.NodeRegistration.Name, c.NodeRegistration.KubeletExtraArgs)
			dir := t.TempDir()
			if err := WriteConfig(dir, Config(p), flags); err != nil {
				t.Fatal(err)
			}
			for file, golden := range map[string]string{layout.KubeletConfigFile: "config-" + tc.name, layout.KubeletFlagsFile: "flags-" + tc.name} {
				got, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, golden, got)
			}
		})
	}
}

func TestGoldenKubeletUnits(t *testing.T) {
	for name, opts := range map[string][]*unit.UnitOption{"kubelet.service": UnitOptions(), "10-kubestrap.conf": DropInOptions()} {
		t.Run(name, func(t *testing.T) {
			got, err := io.ReadAll(unit.Serialize(opts))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, got)
		})
	}
}
