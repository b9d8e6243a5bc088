package kubelet

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallAgentLinksOnceAndReplacesADifferentKubelet(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "release", "kubelet"), filepath.Join(dir, "bin", "kubelet")
	writeExec(t, src, "kubelet v1")
	changed, err := InstallAgent(src, dst)
	if err != nil || !changed {
		t.Fatalf("first install: changed=%v err=%v", changed, err)
	}
	if !sameInode(t, src, dst) {
		t.Error("on one file system the kubelet should be a hard link, not an 82 MB copy")
	}
	if changed, err := InstallAgent(src, dst); err != nil || changed {
		t.Errorf("second install: changed=%v err=%v, want no change", changed, err)
	}
	// An admin's or an older release's kubelet of the same size is compared
	// by content and replaced.
	if err := os.Remove(dst); err != nil {
		t.Fatal(err)
	}
	writeExec(t, dst, "kubelet v0")
	if changed, err := InstallAgent(src, dst); err != nil || !changed {
		t.Errorf("a different kubelet: changed=%v err=%v", changed, err)
	}
	if got, _ := os.ReadFile(dst); string(got) != "kubelet v1" {
		t.Errorf("dst holds %q", got)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "bin", ".*")); len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func TestInstallAgentCopiesANonExecutableSource(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "kubelet.src"), filepath.Join(dir, "kubelet")
	if err := os.WriteFile(src, []byte("kubelet"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := InstallAgent(src, dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o755 || sameInode(t, src, dst) {
		t.Errorf("want a 0755 copy: %v %v", fi.Mode(), err)
	}
}

func TestInstallAgentNamesAMissingKubelet(t *testing.T) {
	_, err := InstallAgent(filepath.Join(t.TempDir(), "none"), filepath.Join(t.TempDir(), "kubelet"))
	if err == nil || !strings.Contains(err.Error(), "bundled kubelet") {
		t.Errorf("missing source: %v", err)
	}
}

func TestEqualReadersAcrossChunks(t *testing.T) {
	big := bytes.Repeat([]byte("k"), 3<<20+7)
	other := append([]byte(nil), big...)
	other[len(other)-1] = 'x'
	for _, c := range []struct {
		a, b []byte
		want bool
	}{{big, big, true}, {big, other, false}, {nil, nil, true}, {big, big[:len(big)-1], false}} {
		if got, err := equalReaders(bytes.NewReader(c.a), bytes.NewReader(c.b)); err != nil || got != c.want {
			t.Errorf("len %d vs %d: got %v %v, want %v", len(c.a), len(c.b), got, err, c.want)
		}
	}
}

func writeExec(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func sameInode(t *testing.T, a, b string) bool {
	t.Helper()
	ai, err1 := os.Stat(a)
	bi, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ai, bi)
}
