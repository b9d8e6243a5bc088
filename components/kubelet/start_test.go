package kubelet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/systemd/systemdtest"
)

func TestStartReloadsWhenAFileChangedOrSystemdAsks(t *testing.T) {
	root := node.Root(t.TempDir())
	agent := filepath.Join(t.TempDir(), "kubelet")
	if err := os.WriteFile(agent, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(needs bool) string {
		sd := &systemdtest.Fake{NeedsReload: needs}
		if _, err := Start(ctx, root, sd, agent); err != nil {
			t.Fatal(err)
		}
		return strings.Join(sd.Called(), ",")
	}
	want := "daemon-reload,enable " + layout.KubeletUnitPath + ",restart kubelet.service"
	if got := run(false); got != want {
		t.Errorf("first start: %s", got)
	}
	if got := run(false); got != "enable "+layout.KubeletUnitPath+",restart kubelet.service" {
		t.Errorf("unchanged files, no reload needed: %s", got)
	}
	// An admin edited the unit by hand: systemd reports NeedDaemonReload.
	if got := run(true); got != want {
		t.Errorf("systemd asked for a reload: %s", got)
	}
	if b, err := os.ReadFile(root.Path(layout.KubeletBinary)); err != nil || string(b) != "#!/bin/true\n" {
		t.Errorf("agent not installed below the root: %v", err)
	}
	if _, err := os.Stat(root.Path(layout.KubeletDropInPath)); err != nil {
		t.Errorf("drop-in not written below the root: %v", err)
	}
}
