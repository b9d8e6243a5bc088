package phases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/preflight"
	"github.com/kubestrap/kubestrap/staticpods"
)

// RoleError says a node already has another role: init on a joined worker,
// join on a control-plane node. It is invalid input: nothing was changed.
type RoleError struct{ Msg string }

func (e *RoleError) Error() string { return e.Msg }

// now is the clock of the phases' duration lines.
var now = time.Now

// PrepareJoin decides what a join run does on this node (kubeDir is the
// real /etc/kubernetes): nothing when the node finished joining, a resume
// (its own leftovers are then not preflight errors) when it started, and a
// refusal on a control-plane node.
func PrepareJoin(out io.Writer, kubeDir, nodeName string, cfg *config.JoinConfiguration, ignore preflight.IgnoreSet) (bool, error) {
	// A control-plane join resumes over its own manifests; only the node
	// init made, or a worker join over a control plane, is refused.
	if exists(filepath.Join(kubeDir, layout.InitRecord)) || (cfg.ControlPlane == nil && isControlPlane(kubeDir)) {
		return true, &RoleError{Msg: "this node is a control-plane node (`kubestrap init` ran here): join is for the other " +
			"nodes; to add more nodes run the join command on them, and to reuse this one reset it first with `kubestrap reset`"}
	}
	if joinedAlready(kubeDir, nodeName) {
		fmt.Fprintf(out, "[join] this node already joined the cluster as %s: nothing to do\n", nodeName)
		return true, nil
	}
	if joinStarted(kubeDir) {
		fmt.Fprintln(out, "[join] resuming a join that did not finish on this node")
		for _, n := range joinResumeIgnores(cfg) {
			ignore[strings.ToLower(n)] = true
		}
	}
	return false, nil
}

// PrepareInit makes init idempotent: a finished init with the same
// configuration is a no-op (done), with another one an error naming the
// differences; an unfinished one resumes. A joined worker is refused.
func PrepareInit(out io.Writer, kubeDir string, cfg *config.Init, ignore preflight.IgnoreSet) (bool, error) {
	// A node that joined as a control plane has manifests and admin.conf
	// like an unfinished init; its join record tells them apart.
	if exists(filepath.Join(kubeDir, layout.JoinRecord)) && !exists(filepath.Join(kubeDir, layout.InitRecord)) &&
		isControlPlane(kubeDir) {
		return true, &RoleError{Msg: "this node joined a cluster as a control plane (" + filepath.Join(kubeDir, layout.JoinRecord) +
			"): init would make a second cluster on it; to add nodes run the join command on them, to reuse this one " +
			"reset it first with `kubestrap reset`"}
	}
	state, err := DetectInitState(kubeDir, cfg)
	if state == Fresh && err == nil && isWorker(kubeDir) {
		return true, &RoleError{Msg: "this node joined a cluster as a worker (" + filepath.Join(kubeDir, layout.JoinRecord) +
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

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isControlPlane(kubeDir string) bool {
	return exists(filepath.Join(kubeDir, layout.InitRecord)) ||
		exists(filepath.Join(kubeDir, layout.ManifestsSubdir, staticpods.KubeAPIServer+".yaml"))
}

func isWorker(kubeDir string) bool {
	return exists(filepath.Join(kubeDir, layout.JoinRecord)) || exists(filepath.Join(kubeDir, layout.BootstrapKubeletConf)) ||
		(exists(filepath.Join(kubeDir, layout.KubeletConf)) && !exists(filepath.Join(kubeDir, layout.AdminConf)))
}

// joinedAlready reports whether this node finished a join: the record is
// there, its kubelet has credentials and the cluster knows the node.
func joinedAlready(kubeDir, name string) bool {
	if !exists(filepath.Join(kubeDir, layout.JoinRecord)) {
		return false
	}
	c, err := clientFromFile(filepath.Join(kubeDir, layout.KubeletConf))
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	return err == nil
}

// joinStarted reports leftovers of an unfinished join.
func joinStarted(kubeDir string) bool {
	for _, f := range []string{layout.BootstrapKubeletConf, layout.KubeletConf, filepath.Join(layout.PKISubdir, "ca.crt")} {
		if exists(filepath.Join(kubeDir, f)) {
			return true
		}
	}
	return false
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

// reportPreflight prints warnings and ignored errors and returns the
// summary line; init and join share it.
func reportPreflight(out io.Writer, results []preflight.Result) string {
	counts := map[preflight.Status]int{}
	for _, r := range results {
		counts[r.Status]++
		for _, w := range r.Warnings {
			fmt.Fprintf(out, "[preflight] WARNING %s: %s\n", r.Name, w)
		}
		if r.Status == preflight.Ignored {
			for _, e := range r.Errors {
				fmt.Fprintf(out, "[preflight] IGNORED %s: %s\n", r.Name, e)
			}
		}
	}
	return fmt.Sprintf("%d checks: %d ok, %d warnings, %d ignored, %d errors", len(results),
		counts[preflight.OK], counts[preflight.Warning], counts[preflight.Ignored], counts[preflight.Failed])
}

// readNeeded reads a file an earlier phase writes; when it is missing the
// error names that phase, so a phase run alone says what it needs first.
func readNeeded(path, command, phase string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing: run `kubestrap %s phase %s` first", ErrNeedsEarlierPhase, path, command, phase)
	}
	return b, err
}
