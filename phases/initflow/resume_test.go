package initflow

import (
	"slices"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases/phasestest"
	"github.com/kubestrap/kubestrap/preflight"
)

// ownChecks are the names of the port, dir and file checks among checks:
// those a node's own earlier, unfinished run trips.
func ownChecks(checks []preflight.Checker) []string {
	var names []string
	for _, c := range checks {
		n := c.Name()
		if strings.HasPrefix(n, "Port-") || strings.HasPrefix(n, "DirAvailable-") || strings.HasPrefix(n, "FileAvailable-") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

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
		want := ownChecks(preflight.InitChecks(&node.Host{}, c))
		if got := sorted(ResumeIgnores(c)); !slices.Equal(got, want) {
			t.Errorf("%s: ResumeIgnores = %v, InitChecks has %v", name, got, want)
		}
	}
}
