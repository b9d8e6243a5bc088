package kubelet

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/golden"
	"github.com/kubestrap/kubestrap/layout"
)

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
			for file, name := range map[string]string{layout.KubeletConfigFile: "config-" + tc.name, layout.KubeletFlagsFile: "flags-" + tc.name} {
				got, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				golden.Check(t, filepath.Join("testdata", name+".golden"), got)
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
			golden.Check(t, filepath.Join("testdata", name+".golden"), got)
		})
	}
}
