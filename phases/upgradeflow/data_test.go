package upgradeflow

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/phases"
	"github.com/kubestrap/kubestrap/staticpods"
)

// A run killed between taking a manifest away and writing the new one
// left only the kept copy: the next run puts it back before it talks to
// the API (on one control plane that is the API server); a component
// whose manifest is there is left to its step.
func TestRestoreTakenAway(t *testing.T) {
	root := node.Root(t.TempDir())
	d := &Data{Base: phases.NewBase(phases.Host{Out: io.Discard, Env: &node.Host{Root: root}})}
	manifests := root.Path(layout.ManifestDir)
	for _, dir := range []string{manifests, d.BackupDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(d.BackupDir(), staticpods.KubeAPIServer+".yaml"), "old apiserver")
	write(filepath.Join(d.BackupDir(), staticpods.Scheduler+".yaml"), "old scheduler")
	write(staticpods.ManifestPath(manifests, staticpods.Scheduler), "new scheduler")
	if got := strings.Join(d.interrupted(), ","); got != staticpods.KubeAPIServer+","+staticpods.Scheduler {
		t.Fatalf("interrupted: %s", got)
	}
	if err := d.restoreTakenAway(); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[string]string{staticpods.KubeAPIServer: "old apiserver", staticpods.Scheduler: "new scheduler"} {
		b, err := os.ReadFile(staticpods.ManifestPath(manifests, c))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", c, b, err, want)
		}
	}
}
