package joinflow

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/components/apply"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/preflight"
)

// now is the clock of the phases' duration lines.
var now = time.Now

// PrepareJoin decides what a join run does on this node (kubeDir is the
// real /etc/kubernetes): nothing when the node finished joining, a resume
// (its own leftovers are then not preflight errors) when it started, and a
// refusal on a control-plane node.
func PrepareJoin(out io.Writer, kubeDir, nodeName string, cfg *config.JoinConfiguration, ignore preflight.IgnoreSet) (bool, error) {
	// A control-plane join resumes over its own manifests; only the node
	// init made, or a worker join over a control plane, is refused.
	if node.Exists(filepath.Join(kubeDir, layout.InitRecord)) || (cfg.ControlPlane == nil && node.RoleAt(kubeDir) == node.ControlPlane) {
		return true, &node.RoleError{Msg: "this node is a control-plane node (`kubestrap init` ran here): join is for the other " +
			"nodes; to add more nodes run the join command on them, and to reuse this one reset it first with `kubestrap reset`"}
	}
	if joinedAlready(kubeDir, nodeName) {
		fmt.Fprintf(out, "[join] this node already joined the cluster as %s: nothing to do\n", nodeName)
		return true, nil
	}
	if node.JoinStarted(kubeDir) {
		fmt.Fprintln(out, "[join] resuming a join that did not finish on this node")
		for _, n := range joinResumeIgnores(cfg) {
			ignore[strings.ToLower(n)] = true
		}
	}
	return false, nil
}

// joinedAlready reports whether this node finished a join: the record is
// there, its kubelet has credentials and the cluster knows the node.
func joinedAlready(kubeDir, name string) bool {
	if !node.Exists(filepath.Join(kubeDir, layout.JoinRecord)) {
		return false
	}
	c, err := apply.ClientFromFile(filepath.Join(kubeDir, layout.KubeletConf))
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	return err == nil
}

// joinResumeIgnores are the checks an unfinished join trips by itself.
func joinResumeIgnores(c *config.JoinConfiguration) []string {
	ports := layout.NodePorts()
	var names []string
	if c.ControlPlane != nil {
		ports = append(ports, layout.ControlPlanePorts(int(c.ControlPlane.LocalAPIEndpoint.BindPort))...)
		names = append(names, layout.DirAvailableCheck(config.DefaultEtcdDataDir))
	}
	for _, p := range ports {
		names = append(names, layout.PortCheck(p.Number))
	}
	return append(names, layout.DirAvailableCheck(layout.ManifestDir),
		layout.FileAvailableCheck(c.CACertPath), layout.FileAvailableCheck(layout.KubeletConfPath))
}
