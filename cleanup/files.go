package cleanup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/kubestrap/kubestrap/node"
)

// Files removes host paths below Root and records them in Report; in a
// dry run it records what it would remove and changes nothing.
type Files struct {
	Root   node.Root
	DryRun bool
	Report *Report
}

// Owned is what kubestrap owns in one directory: Entries are removed whole
// (files or trees), Dirs are cleaned in turn with their own Owned. Anything
// else in the directory is not kubestrap's and stays.
type Owned struct {
	Entries []string
	Dirs    map[string]Owned
	// Kept maps name patterns (path.Match) to why entries so named stay,
	// when they are kubestrap's but kept data, such as etcd data set
	// aside; Clean leaves them with that reason (What is set to them).
	Kept map[string]Left
}

// Remove removes a file or a directory tree (a host path); an absent path
// is no change. A directory that is a mount point is emptied and stays.
func (f Files) Remove(p string) error {
	full := f.Root.Path(p)
	if _, err := os.Lstat(full); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	entries, _ := os.ReadDir(full)
	if !f.DryRun {
		if err := removeTree(full); err != nil {
			return err
		}
		// An empty mount point stays (the kubelet bind-mounts its own
		// directory): with nothing in it, there was nothing to remove, and
		// a second reset must say so.
		if _, err := os.Lstat(full); err == nil && len(entries) == 0 {
			return nil
		}
	}
	f.Report.Removed(p)
	return nil
}

// removeTree is os.RemoveAll that accepts a busy top directory (a mount
// point, such as a volume at /var/lib/kubelet) once it is empty.
func removeTree(path string) error {
	err := os.RemoveAll(path)
	if errors.Is(err, syscall.EBUSY) {
		if entries, rerr := os.ReadDir(path); rerr == nil && len(entries) == 0 {
			return nil
		}
	}
	return err
}

// Clean removes what kubestrap owns in dir, then dir itself when nothing
// else is left in it. Entries that are not kubestrap's, or that it keeps,
// stay and are reported as left. It reports whether dir is gone (or would
// be, in a dry run).
func (f Files) Clean(dir string, o Owned) (bool, error) {
	entries, err := os.ReadDir(f.Root.Path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var errs []error
	left := map[string][]string{} // Kept pattern ("" when unknown) -> paths
	subdirsLeft := false
	for _, e := range entries {
		name, p := e.Name(), filepath.Join(dir, e.Name())
		if sub, ok := o.Dirs[name]; ok && e.IsDir() {
			gone, err := f.Clean(p, sub)
			errs = append(errs, err)
			subdirsLeft = subdirsLeft || !gone
			continue
		}
		if owns(o.Entries, name) {
			errs = append(errs, f.Remove(p))
			continue
		}
		pattern := o.keptPattern(name)
		left[pattern] = append(left[pattern], p)
	}
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	f.leave(left, o.Kept)
	if len(left) > 0 || subdirsLeft {
		return false, nil
	}
	if !f.DryRun {
		if err := os.Remove(f.Root.Path(dir)); err != nil && !errors.Is(err, syscall.EBUSY) {
			return false, fmt.Errorf("remove %s: %w", dir, err)
		}
	}
	f.Report.Removed(dir)
	return true, nil
}

// keptPattern is the Kept pattern name matches, "" for none.
func (o Owned) keptPattern(name string) string {
	patterns := make([]string, 0, len(o.Kept))
	for p := range o.Kept {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns) // the same answer every run
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok && p != "" {
			return p
		}
	}
	return ""
}

// leave reports the paths Clean left: the unknown ones (under "") as not
// kubestrap's, the others with the reason of the Kept pattern they match.
func (f Files) leave(left map[string][]string, kept map[string]Left) {
	patterns := make([]string, 0, len(left))
	for p := range left {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	for _, p := range patterns {
		paths := left[p]
		sort.Strings(paths)
		l, ok := kept[p]
		if p == "" || !ok {
			l = Left{Why: "not written by kubestrap, so left in place " +
				"(remove it yourself if the old cluster needed it only)"}
		}
		l.What = strings.Join(paths, ", ")
		f.Report.Leave(l)
	}
}

// owns reports whether name is one of the owned entries, or the temp file
// of an atomic write of one (".admin.conf.tmp-123") left by a crash.
func owns(entries []string, name string) bool {
	for _, e := range entries {
		if name == e || strings.HasPrefix(name, "."+e+".tmp-") {
			return true
		}
	}
	return false
}

// SafeToRemove refuses a configured directory whose removal would wreck
// the host: what CheckDataDir refuses, and any top-level directory.
func SafeToRemove(p string) error {
	if err := CheckDataDir(p); err != nil {
		return fmt.Errorf("refusing to remove it: %w", err)
	}
	if strings.Count(filepath.Clean(p), "/") < 2 {
		return fmt.Errorf("refusing to remove %q: not an absolute path at least two levels deep", p)
	}
	return nil
}
