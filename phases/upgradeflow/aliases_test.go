package upgradeflow

import "testing"

func TestKubeadmAliases(t *testing.T) {
	for _, nodeOnly := range []bool{false, true} {
		tree := ApplyPhases()
		if nodeOnly {
			tree = NodePhases()
		}
		for _, err := range KubeadmAliases(nodeOnly).Check(tree) {
			t.Errorf("node=%v: %v", nodeOnly, err)
		}
	}
}
