package node

// The host's file system: reads go through a Root so that tests can point
// them at a fake tree, and writes are atomic so that a crash never leaves a
// half-written key or manifest.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Root is the directory that stands for "/" when kubestrap reads host files
// such as /proc/swaps or /sys/class/dmi/id/product_uuid. The zero value and
// "/" both mean the real host.
type Root string

// Path maps an absolute host path into the root.
func (r Root) Path(p string) string {
	if r == "" || r == "/" {
		return p
	}
	return filepath.Join(string(r), p)
}

// ReadFile reads a host file through the root.
func (r Root) ReadFile(p string) ([]byte, error) {
	return os.ReadFile(r.Path(p))
}

// ReadString reads a host file and trims surrounding white space, which is
// how /proc and /sys present single values.
func (r Root) ReadString(p string) (string, error) {
	b, err := r.ReadFile(p)
	return strings.TrimSpace(string(b)), err
}

// Exists reports whether a host path exists; errors other than "not exist"
// count as existing so that a permission problem is not mistaken for absence.
func (r Root) Exists(p string) bool {
	_, err := os.Stat(r.Path(p))
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// WriteFileAtomic writes data to path with the given mode by writing a temp
// file in the same directory, syncing it and renaming it over path. Readers
// see either the old or the new content, never a mix.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	// Chmod before writing so that a key is never readable by others, not
	// even for the moment between write and rename.
	if err = f.Chmod(mode); err != nil {
		_ = f.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return nil
}
