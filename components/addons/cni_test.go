package addons

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCNIPlugins(t *testing.T) {
	bundle, bin := t.TempDir(), t.TempDir()
	for _, p := range CNIPlugins {
		_ = os.WriteFile(filepath.Join(bundle, p), []byte(p), 0o755)
	}
	_ = os.WriteFile(filepath.Join(bin, "bridge"), []byte("distro's"), 0o755)
	got, err := EnsureCNIPlugins(bin, bundle)
	if err != nil || strings.Join(got, ",") != "host-local,loopback,portmap" {
		t.Fatalf("installed %v %v", got, err)
	}
	if b, _ := os.ReadFile(filepath.Join(bin, "bridge")); string(b) != "distro's" {
		t.Error("an existing plugin was replaced")
	}
	if got, _ := EnsureCNIPlugins(bin, bundle); len(got) != 0 {
		t.Errorf("second run installed %v", got)
	}
}
