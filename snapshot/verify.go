package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// HashError says a snapshot's content is not what was saved: the file is
// corrupted (or was replaced) and must not be restored.
type HashError struct {
	File, Expected, Actual string
	// Source is where Expected comes from: the sidecar, or etcd's own
	// checksum at the end of the file.
	Source string
}

func (e *HashError) Error() string {
	return fmt.Sprintf("snapshot %s is corrupted: its sha256 is %s but %s says %s; "+
		"use another snapshot (`kubestrap etcd snapshot list`)", e.File, e.Actual, e.Source, e.Expected)
}

// Check is what Verify found. Its JSON form is part of `snapshot status -o json`.
type Check struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// ExpectedSHA256 is the sidecar's; empty when there is none.
	ExpectedSHA256 string `json:"expectedSHA256,omitempty"`
	// EtcdChecksum is etcd's own sha256, which its snapshot API appends to
	// the data: "ok", or "missing" for a plain copy of a data dir's db
	// (which etcd's restore refuses).
	EtcdChecksum string `json:"etcdChecksum"`
}

// Verify reads file once and checks its sha256 against the sidecar (when
// there is one) and etcd's checksum at its end (when there is one); a
// mismatch is a *HashError.
func Verify(file string) (*Check, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	whole, prefix := sha256.New(), sha256.New()
	embedded := hasEtcdChecksum(fi.Size())
	dataLen := fi.Size()
	if embedded {
		dataLen -= sha256.Size
	}
	tail := &bytes.Buffer{}
	w := io.MultiWriter(whole, &splitWriter{first: prefix, left: dataLen, rest: tail})
	if _, err := io.Copy(w, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	c := &Check{File: file, SHA256: hex.EncodeToString(whole.Sum(nil)), EtcdChecksum: "missing"}
	info, err := ReadInfo(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	if info != nil {
		c.ExpectedSHA256 = info.SHA256
		if info.SHA256 != c.SHA256 {
			return c, &HashError{File: file, Expected: info.SHA256, Actual: c.SHA256, Source: SidecarPath(file)}
		}
	}
	if embedded {
		want, got := hex.EncodeToString(tail.Bytes()), hex.EncodeToString(prefix.Sum(nil))
		if want != got {
			return c, &HashError{File: file, Expected: want, Actual: got + " (of its data)", Source: "etcd's checksum at its end"}
		}
		c.EtcdChecksum = "ok"
	}
	return c, nil
}

// hasEtcdChecksum is etcd's own test: its db is a whole number of 512-byte
// sectors, and the snapshot API appends a sha256 to it.
func hasEtcdChecksum(size int64) bool { return size%512 == sha256.Size }

// splitWriter sends the first left bytes to first and the rest to rest.
type splitWriter struct {
	first hash.Hash
	left  int64
	rest  io.Writer
}

func (s *splitWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.left > 0 {
		k := min(int64(len(p)), s.left)
		_, _ = s.first.Write(p[:k])
		s.left -= k
		p = p[k:]
	}
	if len(p) > 0 {
		if _, err := s.rest.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Status is `kubestrap etcd snapshot status`: the hash check, the sidecar
// and etcd's own reading of the file. Its JSON form is stable.
type Status struct {
	Check
	Sidecar *Info `json:"sidecar,omitempty"`
	// Revision, TotalKeys and TotalSize are what etcdutl reads from the
	// file's bolt database, which it checks for consistency first.
	Revision       int64  `json:"revision"`
	TotalKeys      int    `json:"totalKeys"`
	TotalSize      int64  `json:"totalSize"`
	StorageVersion string `json:"storageVersion,omitempty"`
}

// Inspect verifies file (a *HashError when corrupted) and reads its
// status with etcdutl, as `etcdutl snapshot status` does.
func Inspect(file string) (*Status, error) {
	c, err := Verify(file)
	if err != nil {
		return nil, err
	}
	st := &Status{Check: *c}
	st.Sidecar, _ = ReadInfo(file)
	ds, err := etcdutl.NewV3(zap.NewNop()).Status(file)
	if err != nil {
		return st, fmt.Errorf("etcd cannot read snapshot %s: %w", file, err)
	}
	st.Revision, st.TotalKeys, st.TotalSize, st.StorageVersion = ds.Revision, ds.TotalKey, ds.TotalSize, ds.Version
	return st, nil
}
