package upgradeflow

import "github.com/kubestrap/kubestrap/phases"

// KubeadmAliases are kubeadm's phase names of `upgrade apply` and `upgrade
// node` (v1.32+), so that `--skip-phases addon/coredns` works unchanged.
func KubeadmAliases(nodeOnly bool) phases.Aliases {
	if nodeOnly {
		return phases.Aliases{Targets: map[string][]string{"kubelet-config": {"kubelet"}, "addon": {}, "post-upgrade": {}},
			NoCounterpart: map[string]string{"addon": "`upgrade node` updates no addons: `upgrade apply` did",
				"post-upgrade": "kubestrap has no post-upgrade work"}}
	}
	return phases.Aliases{
		Targets: map[string][]string{"addon": {"addons"}, "addon/coredns": {"addons/coredns"},
			"addon/kube-proxy": {"addons/kube-proxy"}, "kubelet-config": {"kubelet"}, "bootstrap-token": {},
			"post-upgrade": {}},
		NoCounterpart: map[string]string{"bootstrap-token": "kubestrap's bootstrap-token RBAC does not change between versions",
			"post-upgrade": "kubestrap has no post-upgrade work"}}
}
