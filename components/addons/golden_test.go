package addons

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/images"
	"github.com/kubestrap/kubestrap/config"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenConfig is a defaulted init config with the host-dependent fields
// (node name, advertise address) fixed, as staticpods' tests build it.
func goldenConfig(t *testing.T) *config.Init {
	t.Helper()
	c, err := config.LoadInit("", func(c *config.Init) {
		c.NodeRegistration.Name = "cp-1"
		c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

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
		t.Fatalf("%v (run go test ./components/addons -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s: %s (run go test ./components/addons -update after checking the change)",
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

func TestGoldenCoreDNS(t *testing.T) {
	c := goldenConfig(t)
	img, err := images.Images(&c.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	for name, upstream := range map[string]bool{"coredns-upstream": true, "coredns-no-upstream": false} {
		t.Run(name, func(t *testing.T) {
			m, err := CoreDNSManifest(&c.Cluster, img, certs.ClusterServer(c), upstream)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, m)
		})
	}
}

func TestGoldenKubeProxy(t *testing.T) {
	c := goldenConfig(t)
	img, err := images.Images(&c.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	for name, writable := range map[string]bool{"kube-proxy-conntrack-writable": true, "kube-proxy-conntrack-readonly": false} {
		t.Run(name, func(t *testing.T) {
			m, err := KubeProxyManifest(&c.Cluster, img, certs.ClusterServer(c), writable)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name, m)
		})
	}
}

func TestGoldenFlannel(t *testing.T) {
	c := goldenConfig(t)
	img, err := images.Images(&c.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FlannelManifest(&c.Cluster, img, certs.ClusterServer(c))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "flannel", m)
}

func TestGoldenConflist(t *testing.T) {
	b, err := Conflist("10.244.1.0/24", 1450)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "conflist", b)
}
