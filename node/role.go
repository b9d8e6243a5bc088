// Package node is the host kubestrap runs on, as one model every package
// uses: its files through an injectable root with atomic writes, its
// commands with timeouts, the container runtime, its addresses, host name
// and node name, the lock one kubestrap operation at a time holds, and the
// role init and join left it in, decided once from the records they write.
package node

import (
	"os"
	"path/filepath"

	"github.com/kubestrap/kubestrap/layout"
)

// Role is what init and join made of the host.
type Role string

const (
	// ControlPlane: init's record, or an API server manifest (a
	// control-plane join).
	ControlPlane Role = "control-plane"
	// Worker: join's record, a bootstrap kubeconfig, or a kubelet.conf
	// without admin.conf.
	Worker Role = "worker"
	// None: a bare host, or one reset.
	None Role = "none"
)

// RoleAt decides the role from the node's Kubernetes directory (the real
// /etc/kubernetes, or a dry run's or a test's stand-in). A control plane's
// files win: a control-plane join also leaves join's record.
func RoleAt(kubeDir string) Role {
	has := func(name string) bool { return Exists(filepath.Join(kubeDir, name)) }
	switch {
	case has(layout.InitRecord), has(filepath.Join(layout.ManifestsSubdir, layout.APIServerManifest)):
		return ControlPlane
	case has(layout.JoinRecord), has(layout.BootstrapKubeletConf), has(layout.KubeletConf) && !has(layout.AdminConf):
		return Worker
	}
	return None
}

// JoinStarted reports what an unfinished join leaves before its record:
// the kubelet's kubeconfigs or the cluster CA.
func JoinStarted(kubeDir string) bool {
	for _, f := range []string{layout.BootstrapKubeletConf, layout.KubeletConf, filepath.Join(layout.PKISubdir, layout.CACert)} {
		if Exists(filepath.Join(kubeDir, f)) {
			return true
		}
	}
	return false
}

// RoleError says a node already has another role: init on a joined worker,
// join on a control-plane node. It is invalid input: nothing was changed.
type RoleError struct{ Msg string }

func (e *RoleError) Error() string { return e.Msg }

// Exists reports whether path exists (stat succeeds): the records and
// files that decide a role or a resume are there or not.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
