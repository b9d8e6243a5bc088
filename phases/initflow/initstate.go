package initflow

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/staticpods"
)

// InitState is how far an earlier init got on this node.
type InitState int

// States.
const (
	Fresh    InitState = iota // nothing of a control plane here
	Partial                   // an init started and did not finish
	Complete                  // an init finished (its record exists)
)

// ConfigChangedError says a finished init had another configuration.
type ConfigChangedError struct {
	Diff []string
}

func (e *ConfigChangedError) Error() string {
	return "this node was initialized with another configuration; differences (was -> now):\n  " +
		strings.Join(e.Diff, "\n  ") + "\nkubestrap never rewrites a running control plane: re-run init with the original settings, or " +
		"reset the node with `kubestrap reset` and run init again"
}

// DetectInitState looks at kubeDir (normally /etc/kubernetes). For a
// finished init it compares the recorded configuration with c.
func DetectInitState(kubeDir string, c *config.Init) (InitState, error) {
	rec, err := os.ReadFile(filepath.Join(kubeDir, layout.InitRecord))
	if errors.Is(err, fs.ErrNotExist) {
		for _, p := range []string{layout.AdminConf, filepath.Join(layout.ManifestsSubdir, staticpods.KubeAPIServer+".yaml")} {
			if _, err := os.Stat(filepath.Join(kubeDir, p)); err == nil {
				return Partial, nil
			}
		}
		return Fresh, nil
	}
	if err != nil {
		return Fresh, err
	}
	now, err := InitRecordFor(c)
	if err != nil {
		return Complete, err
	}
	if bytes.Equal(rec, now) {
		return Complete, nil
	}
	return Complete, &ConfigChangedError{Diff: lineDiff(string(rec), string(now))}
}

// lineDiff pairs the lines that differ between two renderings of the
// config; both come from the same marshaller, so fields line up.
func lineDiff(was, now string) []string {
	a, b := strings.Split(was, "\n"), strings.Split(now, "\n")
	inB := map[string]bool{}
	for _, l := range b {
		inB[l] = true
	}
	inA := map[string]bool{}
	for _, l := range a {
		inA[l] = true
	}
	var gone, added []string
	for _, l := range a {
		if !inB[l] {
			gone = append(gone, strings.TrimSpace(l))
		}
	}
	for _, l := range b {
		if !inA[l] {
			added = append(added, strings.TrimSpace(l))
		}
	}
	var out []string
	for i := 0; i < len(gone) || i < len(added); i++ {
		g, n := "(none)", "(none)"
		if i < len(gone) {
			g = gone[i]
		}
		if i < len(added) {
			n = added[i]
		}
		out = append(out, fmt.Sprintf("%s -> %s", g, n))
	}
	return out
}

// ResumeIgnores are the preflight checks that an unfinished init of this
// very node trips by itself: its own ports and directories.
func ResumeIgnores(c *config.Init) []string {
	var names []string
	for _, p := range append(layout.NodePorts(), layout.ControlPlanePorts(int(c.LocalAPIEndpoint.BindPort))...) {
		names = append(names, layout.PortCheck(p.Number))
	}
	return append(names, layout.DirAvailableCheck(layout.ManifestDir), layout.DirAvailableCheck(c.Cluster.Etcd.Local.DataDir))
}

// InitConfigFile is the configuration a run starts from: the given file;
// or, for one phase on a node init finished on (`init phase upload-certs`
// a day later), the configuration init recorded, so the phase works on the
// cluster as it is without repeating every flag. Flags still win.
func InitConfigFile(given, phase string) string {
	rec := filepath.Join(layout.KubernetesDir, layout.InitRecord)
	if given != "" || phase == "" || !node.Exists(rec) {
		return given
	}
	return rec
}
