package node

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootPath(t *testing.T) {
	tests := []struct {
		root Root
		in   string
		want string
	}{
		{"", "/proc/swaps", "/proc/swaps"},
		{"/", "/proc/swaps", "/proc/swaps"},
		{"/tmp/fake", "/proc/swaps", "/tmp/fake/proc/swaps"},
	}
	for _, tt := range tests {
		if got := tt.root.Path(tt.in); got != tt.want {
			t.Errorf("Root(%q).Path(%q) = %q, want %q", tt.root, tt.in, got, tt.want)
		}
	}
}

func TestWriteFileAtomicModeAndContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "key.pem")
	if err := WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("content = %q, %v; want two", b, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestWriteFileAtomicFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(blocker, "x"), []byte("a"), 0o600); err == nil {
		t.Fatal("expected an error writing below a regular file")
	}
}

func TestExistsAndReadString(t *testing.T) {
	dir := t.TempDir()
	r := Root(dir)
	if err := os.MkdirAll(filepath.Join(dir, "proc/sys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proc/sys/v"), []byte(" 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !r.Exists("/proc/sys/v") || r.Exists("/proc/nope") {
		t.Error("Exists is wrong")
	}
	if s, err := r.ReadString("/proc/sys/v"); err != nil || s != "1" {
		t.Errorf("ReadString = %q, %v", s, err)
	}
}
