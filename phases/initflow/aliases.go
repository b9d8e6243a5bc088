package initflow

import "github.com/kubestrap/kubestrap/phases"

// KubeadmAliases are kubeadm's init phase names (v1.35) where kubestrap's
// differ, each mapped to the phases that do that work.
var KubeadmAliases = phases.Aliases{Targets: map[string][]string{
	"addon":                 {"addons"},
	"addon/all":             {"addons"},
	"addon/coredns":         {"addons/coredns"},
	"addon/kube-proxy":      {"addons/kube-proxy"},
	"certs/all":             {"certs"},
	"kubeconfig/all":        {"kubeconfig"},
	"control-plane/all":     {"control-plane"},
	"etcd/all":              {"etcd"},
	"upload-config/all":     {"upload-config"},
	"upload-config/kubeadm": {"upload-config"},
	"upload-config/kubelet": {"upload-config"},
	"kubelet-finalize/all":  {"kubelet-finalize"},
	"kubelet-finalize/enable-client-cert-rotation": {"kubelet-finalize"},
}}
