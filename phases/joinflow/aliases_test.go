package joinflow

import (
	"testing"

	"github.com/kubestrap/kubestrap/phases"
)

// Every kubeadm name points at phases that exist: renaming a phase without
// its alias fails here.
func TestKubeadmAliasesPointAtRealPhases(t *testing.T) {
	for _, err := range KubeadmAliases.Check(JoinPhases()) {
		t.Error(err)
	}
}

func TestKubeadmsCheckEtcdSkipsNothing(t *testing.T) {
	r := &phases.Runner{Command: "join", Phases: JoinPhases(), Aliases: KubeadmAliases, Skip: []string{"check-etcd"}}
	if err := r.ValidateSkip(); err != nil || len(r.Skip) != 0 {
		t.Errorf("kubeadm's check-etcd skips nothing here: %v %v", r.Skip, err)
	}
}
