package initflow

import (
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/phases"
)

// Every kubeadm name points at phases that exist: renaming a phase without
// its alias fails here.
func TestKubeadmAliasesPointAtRealPhases(t *testing.T) {
	for _, err := range KubeadmAliases.Check(InitPhases()) {
		t.Error(err)
	}
}

func TestSkipPhasesTakesKubeadmNames(t *testing.T) {
	r := &phases.Runner{Command: "init", Phases: InitPhases(), Aliases: KubeadmAliases,
		Skip: []string{"addon/kube-proxy", "certs", "upload-config/kubelet"}}
	if err := r.ValidateSkip(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Skip, ","); got != "addons/kube-proxy,certs,upload-config" {
		t.Errorf("skip resolved to %s", got)
	}
}
