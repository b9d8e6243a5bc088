package systemd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/node"
)

func TestWriteUnitReportsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "system", "kubelet.service")
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Service", "ExecStart", "/usr/local/bin/kubelet"),
		unit.NewUnitOption("Service", "Restart", "always"),
	}
	changed, err := WriteUnit(path, opts)
	if err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "[Service]\nExecStart=/usr/local/bin/kubelet\nRestart=always\n") {
		t.Errorf("unit:\n%s", b)
	}
	if changed, _ := WriteUnit(path, opts); changed {
		t.Error("an identical unit counted as a change (would restart the kubelet for nothing)")
	}
	opts[1] = unit.NewUnitOption("Service", "Restart", "on-failure")
	if changed, _ := WriteUnit(path, opts); !changed {
		t.Error("a changed unit was not reported")
	}
}

func TestRunning(t *testing.T) {
	root := t.TempDir()
	if Running(node.Root(root)) {
		t.Error("systemd reported on a root without /run/systemd/system")
	}
	_ = os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755)
	if !Running(node.Root(root)) {
		t.Error("systemd not detected")
	}
}

func TestUsecTime(t *testing.T) {
	if !usecTime(uint64(0)).IsZero() || !usecTime(^uint64(0)).IsZero() || !usecTime("x").IsZero() {
		t.Error("never (0, infinity, or another type) must be the zero time")
	}
	if got := usecTime(uint64(1_700_000_000_000_000)); got.Unix() != 1_700_000_000 {
		t.Errorf("got %v", got)
	}
}
