package cleanup

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/kubestrap/kubestrap/hostfs"
)

// MountsFile lists the mounts of kubestrap's own mount namespace, which is
// the host's: the kubelet mounts pod volumes there.
const MountsFile = "/proc/self/mounts"

// MountsBelow lists the mount points strictly below dir (host paths), read
// from MountsFile under root, in the order to unmount them: deepest first,
// and of mounts stacked on one point the last mounted first.
func MountsBelow(root hostfs.Root, dir string) ([]string, error) {
	b, err := root.ReadFile(MountsFile)
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	prefix := strings.TrimSuffix(filepath.Clean(dir), "/") + "/"
	var below []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if t := unescapeMount(f[1]); strings.HasPrefix(t, prefix) {
			below = append(below, t)
		}
	}
	// Reverse first, so that the stable sort keeps later mounts first.
	for i, j := 0, len(below)-1; i < j; i, j = i+1, j-1 {
		below[i], below[j] = below[j], below[i]
	}
	sort.SliceStable(below, func(i, j int) bool { return strings.Count(below[i], "/") > strings.Count(below[j], "/") })
	return below, nil
}

// unescapeMount decodes the octal escapes (\040 for a space) that the
// kernel writes into mount paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Unmount unmounts each target (host paths, mapped below root), falling
// back to a lazy unmount (MNT_DETACH) for a busy one. A target that is no
// longer mounted (EINVAL) or gone (ENOENT) counts as done. It returns the
// targets it unmounted.
func Unmount(root hostfs.Root, targets []string, unmount func(target string, flags int) error) ([]string, error) {
	var done []string
	var errs []error
	for _, t := range targets {
		err := unmount(root.Path(t), 0)
		if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			err = unmount(root.Path(t), syscall.MNT_DETACH)
		}
		switch {
		case err == nil:
			done = append(done, t)
		case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENOENT):
		default:
			errs = append(errs, fmt.Errorf("unmount %s: %w", t, err))
		}
	}
	return done, errors.Join(errs...)
}
