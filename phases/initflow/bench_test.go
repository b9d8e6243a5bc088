package initflow

import (
	"context"
	"io"
	"testing"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
)

// BenchmarkInitDryRun measures the offline half of `kubestrap init`
// (certs, kubeconfigs, manifests, kubelet config) end to end, preflight
// skipped since it reads this host.
func BenchmarkInitDryRun(b *testing.B) {
	for i := 0; i < b.N; i++ {
		c, err := config.LoadInit("", func(c *config.Init) {
			c.NodeRegistration.Name = "cp-1"
			c.LocalAPIEndpoint.AdvertiseAddress = "192.168.56.10"
		})
		if err != nil {
			b.Fatal(err)
		}
		d, err := NewInitData(c, InitOptions{DryRun: true, DryRunDir: b.TempDir(), Out: io.Discard, Env: node.Real()})
		if err != nil {
			b.Fatal(err)
		}
		r := &phases.Runner{Command: "init", Phases: InitPhases(), Out: io.Discard, Skip: []string{"preflight"}}
		if err := r.Run(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}
