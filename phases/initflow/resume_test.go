package initflow

import (
	"slices"
	"testing"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases/phasestest"
	"github.com/kubestrap/kubestrap/preflight"
)

// The resume ignores are exactly the port and directory checks that init's
// preflight runs, so that the two cannot drift apart.
func TestResumeIgnoresMatchInitChecks(t *testing.T) {
	for name, mutate := range map[string]func(*config.Init){
		"defaults": nil,
		"custom": func(c *config.Init) {
			c.LocalAPIEndpoint.BindPort = 7443
			c.Cluster.Etcd.Local = &config.LocalEtcd{DataDir: "/data/etcd"}
		},
	} {
		c := phasestest.InitConfig(t, mutate)
		want := phasestest.OwnChecks(preflight.InitChecks(&node.Host{}, c))
		if got := phasestest.Sorted(ResumeIgnores(c)); !slices.Equal(got, want) {
			t.Errorf("%s: ResumeIgnores = %v, InitChecks has %v", name, got, want)
		}
	}
}
