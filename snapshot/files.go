package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Entry is one snapshot file in a dir, with its sidecar when it has one.
type Entry struct {
	Path string `json:"path"`
	// Info is the sidecar; nil when the file has none (or it does not
	// read: SidecarError says why).
	Info         *Info     `json:"info,omitempty"`
	SidecarError string    `json:"sidecarError,omitempty"`
	Size         int64     `json:"size"`
	ModTime      time.Time `json:"modTime"`
}

// Time is when the snapshot was taken: the sidecar's time, else the file's.
func (e Entry) Time() time.Time {
	if e.Info != nil && !e.Info.Time.IsZero() {
		return e.Info.Time
	}
	return e.ModTime
}

// ReadInfo reads a snapshot's sidecar.
func ReadInfo(file string) (*Info, error) {
	b, err := os.ReadFile(SidecarPath(file))
	if err != nil {
		return nil, err
	}
	var i Info
	if err := json.Unmarshal(b, &i); err != nil {
		return nil, fmt.Errorf("%s: %w", SidecarPath(file), err)
	}
	return &i, nil
}

// List returns the *.db files in dir, newest first; a missing dir has none.
func List(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".db") {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed while listing
		}
		e := Entry{Path: filepath.Join(dir, de.Name()), Size: fi.Size(), ModTime: fi.ModTime().UTC()}
		if e.Info, err = ReadInfo(e.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			e.SidecarError = err.Error()
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time().After(out[j].Time()) })
	return out, nil
}

// prunable says whether retention may remove a snapshot: only the ones a
// save named itself (DefaultName) and described with a sidecar, so that a
// snapshot an admin saved under a name of their own is never removed.
func prunable(e Entry) bool {
	base := filepath.Base(e.Path)
	return e.Info != nil && strings.HasPrefix(base, "etcd-") && strings.HasSuffix(base, "Z.db")
}

// Prune keeps the newest keep prunable snapshots in dir and removes the
// others with their sidecars; it returns the removed snapshot files. A
// keep below 1 keeps everything.
func Prune(dir string, keep int) ([]string, error) {
	if keep < 1 {
		return nil, nil
	}
	entries, err := List(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	kept := 0
	for _, e := range entries {
		if !prunable(e) {
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		// The snapshot goes first: a sidecar without its file is listed by
		// nothing, a file without its sidecar would no longer be pruned.
		if err := os.Remove(e.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(SidecarPath(e.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		if err := removeKeys(e.Path); err != nil {
			errs = append(errs, err)
		}
		removed = append(removed, e.Path)
	}
	return removed, errors.Join(errs...)
}
