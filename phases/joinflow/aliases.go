package joinflow

import "github.com/kubestrap/kubestrap/phases"

// KubeadmAliases are kubeadm's join phase names (v1.35) where kubestrap's
// differ, each mapped to the phases that do that work.
var KubeadmAliases = phases.Aliases{
	Targets: map[string][]string{
		"control-plane-prepare/all": {"control-plane-prepare"},
		"kubelet-wait-bootstrap":    {"wait-registered"},
		"check-etcd":                nil,
		"etcd-join":                 {"control-plane-join/etcd"},
		"control-plane-join/all":    {"control-plane-join"},
		"wait-control-plane":        {"control-plane-join/wait-control-plane"},
	},
	NoCounterpart: map[string]string{
		"check-etcd": "control-plane-join/etcd checks etcd's health before it adds this node's member",
	},
}
