package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tmpMarker is in the name of every temp file kubestrap writes next to a key
// or certificate (".ca.key.tmp-123"), the same pattern node.WriteFileAtomic
// uses, so that cleanTemps also removes leftovers of older releases.
const tmpMarker = ".tmp-"

// file is one half of a pair to write.
type file struct {
	path string
	data []byte
	mode fs.FileMode
}

// writePair writes a key and its companion (certificate or public key) in
// one directory so that the only partial state a crash can leave is the key
// without its companion, which load treats as an interrupted write. Both
// temp files are written and synced before either is renamed, so a full
// disk fails before anything is in place; the directory is synced after the
// key's rename so that the companion's rename can never reach the disk first.
func writePair(key, companion file) error {
	dir := filepath.Dir(key.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	keyTmp, err := writeTemp(key)
	if err != nil {
		return err
	}
	compTmp, err := writeTemp(companion)
	if err != nil {
		_ = os.Remove(keyTmp)
		return err
	}
	if err := renameSynced(keyTmp, key.path); err != nil {
		_ = os.Remove(keyTmp)
		_ = os.Remove(compTmp)
		return err
	}
	return writeRenamed(compTmp, companion.path)
}

// writeOne writes a single file with the same guarantees: used to complete
// a pair whose key is already on disk.
func writeOne(f file) error {
	tmp, err := writeTemp(f)
	if err != nil {
		return err
	}
	return writeRenamed(tmp, f.path)
}

// writeRenamed moves a synced temp file into place, removing it on failure
// so that no key material or half pair is left behind under a temp name.
func writeRenamed(tmp, path string) error {
	if err := renameSynced(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// writeTemp writes f's data to a synced temp file next to f.path and
// returns its name. The mode is set before writing so that a key is never
// readable by others, not even under its temp name.
func writeTemp(f file) (name string, err error) {
	t, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+tmpMarker+"*")
	if err != nil {
		return "", fmt.Errorf("create temp file for %s: %w", f.path, err)
	}
	defer func() {
		if cerr := t.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", t.Name(), cerr)
		}
		if err != nil {
			_ = os.Remove(t.Name())
		}
	}()
	if err := t.Chmod(f.mode); err != nil {
		return "", fmt.Errorf("chmod %s: %w", t.Name(), err)
	}
	if _, err := t.Write(f.data); err != nil {
		return "", fmt.Errorf("write %s: %w", t.Name(), err)
	}
	if err := t.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", t.Name(), err)
	}
	return t.Name(), nil
}

// renameSynced renames and then syncs the directory, which is what makes
// the rename itself survive a power loss.
func renameSynced(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// cleanTemps removes temp files a crash left next to paths. Only the
// caller's own files are matched: other certificates of the same directory
// are written concurrently, and their temp files are still in use.
func cleanTemps(paths ...string) error {
	var errs []error
	for _, p := range paths {
		matches, err := filepath.Glob(filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+tmpMarker+"*"))
		errs = append(errs, err)
		for _, m := range matches {
			if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove leftover temp file: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// readOptional reads path and says whether it exists. Any error other than
// "not exist" is returned: a key that cannot be read must not be taken for a
// missing one and overwritten.
func readOptional(path string) (data []byte, found bool, err error) {
	data, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// exists reports whether path exists; errors other than "not exist" count
// as existing so that a permission problem is not mistaken for absence.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
