//go:build tools

// Package k8s pins (at v1.34, the version an upgrade starts from) the upstream Kubernetes commands that the bundle builds.
// The blank imports keep `go mod tidy` from dropping them.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm" // comparisons only: make bench-vs-kubeadm, never shipped
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
