package cleanup

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/kubestrap/kubestrap/node"
)

// MountsFile lists the mounts of kubestrap's own mount namespace, which is
// the host's: the kubelet mounts pod volumes there.
const MountsFile = "/proc/self/mounts"

// MountsBelow lists the mount points strictly below dir (host paths), read
// from MountsFile under root, in the order to unmount them: deepest first,
// and of mounts stacked on one point the last mounted first.
func MountsBelow(root node.Root, dir string) ([]string, error) {
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
func Unmount(root node.Root, targets []string, unmount func(target string, flags int) error) ([]string, error) {
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

// MountInfoFile has each mount's source root and device, which
// MountsFile lacks.
const MountInfoFile = "/proc/self/mountinfo"

type mountInfo struct {
	dev, root, point string
}

func readMountInfo(root node.Root) ([]mountInfo, error) {
	b, err := root.ReadFile(MountInfoFile)
	if err != nil {
		return nil, err
	}
	var ms []mountInfo
	for _, line := range strings.Split(string(b), "\n") {
		// ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS ...
		f := strings.Fields(line)
		if len(f) >= 5 {
			ms = append(ms, mountInfo{dev: f[2], root: unescapeMount(f[3]), point: unescapeMount(f[4])})
		}
	}
	return ms, nil
}

// SelfBindMount reports whether dir is mounted as a bind of itself: the
// kubelet does that to its root dir to make it rshared, and it outlives
// the kubelet. Such a mount shows the same device as the mount dir sits
// on, with dir's own place in that file system as its root. A volume an
// admin mounted there (another device or root) is not one: it stays.
func SelfBindMount(root node.Root, dir string) (bool, error) {
	ms, err := readMountInfo(root)
	if err != nil {
		if !root.Exists(MountInfoFile) {
			return false, nil
		}
		return false, err
	}
	dir = filepath.Clean(dir)
	self, parent := -1, -1
	for i, m := range ms {
		switch {
		case m.point == dir:
			self = i // the last one is on top
		case isUnder(dir, m.point) && (parent < 0 || len(m.point) >= len(ms[parent].point)):
			parent = i
		}
	}
	if self < 0 || parent < 0 {
		return false, nil
	}
	p, s := ms[parent], ms[self]
	rel := strings.TrimPrefix(dir, strings.TrimSuffix(p.point, "/"))
	return s.dev == p.dev && filepath.Clean(p.root+rel) == s.root, nil
}

func isUnder(p, dir string) bool {
	return dir == "/" || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}
