package resetflow

import "testing"

// Every kubeadm name points at phases that exist: renaming a phase without
// its alias fails here.
func TestKubeadmAliasesPointAtRealPhases(t *testing.T) {
	for _, err := range KubeadmAliases.Check(ResetPhases()) {
		t.Error(err)
	}
}
