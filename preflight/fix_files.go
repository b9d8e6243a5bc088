package preflight

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/kubestrap/kubestrap/node"
)

func backupName(path string, now func() time.Time) string {
	if now == nil {
		now = time.Now
	}
	return path + ".kubestrap-backup-" + now().UTC().Format("20060102T150405Z")
}

// writeFixFile is how every fix writes a host file. A file that exists is
// copied to backup first, and both copies keep its mode and owner:
// containerd's config may hold registry credentials, so a 0600 file must
// not come back 0644. A new file is created 0644.
func writeFixFile(path, backup string, data []byte) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return node.WriteFileAtomic(path, data, 0o644)
	}
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := writeLike(backup, old, fi); err != nil {
		return err
	}
	return writeLike(path, data, fi)
}

// writeLike writes data atomically with fi's mode and owner. It starts
// owner-only and root-owned, so no moment is more open than the end state.
func writeLike(path string, data []byte, fi fs.FileInfo) error {
	if err := node.WriteFileAtomic(path, data, fi.Mode().Perm()&0o700); err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return os.Chmod(path, fi.Mode().Perm())
}

// restoreText is the revert text for a file a fix writes: restore the
// backup, or remove the file the fix created.
func restoreText(e *node.Host, hostPath, backup string) string {
	if e.Root.Exists(hostPath) {
		return "cp -p " + backup + " " + hostPath
	}
	return "rm " + hostPath
}
