package initflow

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/preflight"
)

// PrepareInit makes init idempotent: a finished init with the same
// configuration is a no-op (done), with another one an error naming the
// differences; an unfinished one resumes. A joined worker is refused.
func PrepareInit(out io.Writer, kubeDir string, cfg *config.Init, ignore preflight.IgnoreSet) (bool, error) {
	// A node that joined as a control plane has manifests and admin.conf
	// like an unfinished init; its join record tells them apart.
	if node.Exists(filepath.Join(kubeDir, layout.JoinRecord)) && !node.Exists(filepath.Join(kubeDir, layout.InitRecord)) &&
		node.RoleAt(kubeDir) == node.ControlPlane {
		return true, &node.RoleError{Msg: "this node joined a cluster as a control plane (" + filepath.Join(kubeDir, layout.JoinRecord) +
			"): init would make a second cluster on it; to add nodes run the join command on them, to reuse this one " +
			"reset it first with `kubestrap reset`"}
	}
	state, err := DetectInitState(kubeDir, cfg)
	if state == Fresh && err == nil && node.RoleAt(kubeDir) == node.Worker {
		return true, &node.RoleError{Msg: "this node joined a cluster as a worker (" + filepath.Join(kubeDir, layout.JoinRecord) +
			" or its kubelet.conf exists): init would make a second cluster on it; reset the node first with `kubestrap reset`"}
	}
	switch {
	case err != nil:
		return true, err
	case state == Complete:
		fmt.Fprintln(out, "[init] this node is already initialized with this configuration: nothing to do "+
			"(`kubestrap token create --print-join-command` prints a join command)")
		return true, nil
	case state == Partial:
		fmt.Fprintln(out, "[init] resuming an init that did not finish on this node")
		for _, n := range ResumeIgnores(cfg) {
			ignore[strings.ToLower(n)] = true
		}
	}
	return false, nil
}
