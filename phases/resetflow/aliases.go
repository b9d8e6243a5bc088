package resetflow

import "github.com/kubestrap/kubestrap/phases"

// KubeadmAliases are kubeadm's reset phase names (v1.35), each mapped to
// the phases that do that work.
var KubeadmAliases = phases.Aliases{
	Targets: map[string][]string{
		"preflight":    nil,
		"cleanup-node": {"stop-kubelet", "timers", "remove-pods", "unmount", "remove-files", "network", "preflight-fixes"},
	},
	NoCounterpart: map[string]string{
		"preflight": "reset asks only at a terminal and checks its own inputs; a member removal that would lose " +
			"quorum is refused in remove-etcd-member",
	},
}
