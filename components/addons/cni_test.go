package addons

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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

// The flannel DaemonSet's cni-config script writes what Conflist writes:
// a node kubeadm joined gets the same pod network as one kubestrap joined.
func TestCNIConfigScriptWritesConflist(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "subnet.env")
	if err := os.WriteFile(env, []byte("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "net.d")
	run := func() string {
		cmd := exec.Command("sh", "-c", cniConfigScript)
		cmd.Env = append(os.Environ(), "FLANNEL_SUBNET_ENV="+env, "CNI_CONF_DIR="+conf, "CNI_CONFIG_ONCE=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("script: %v\n%s", err, out)
		}
		return string(out)
	}
	run()
	got, err := os.ReadFile(filepath.Join(conf, ConflistName))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Conflist("10.244.3.0/24", 1450)
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("the script wrote invalid JSON: %v\n%s", err, got)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("the script's conflist differs from Conflist's:\n%s\nwant\n%s", got, want)
	}
	// An existing config (kubestrap's own, or another CNI's) is never touched.
	other := filepath.Join(conf, ConflistName)
	_ = os.WriteFile(other, []byte("{}"), 0o644)
	if out := run(); strings.Contains(out, "wrote") {
		t.Errorf("the script rewrote an existing config: %s", out)
	}
	if b, _ := os.ReadFile(other); string(b) != "{}" {
		t.Errorf("existing config changed: %s", b)
	}
}
