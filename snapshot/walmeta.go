package snapshot

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
)

// DataDirClusterID reads the etcd cluster ID that a member's data dir
// belongs to from its write-ahead log: every WAL file begins with a
// metadata record holding the member and cluster IDs. This tells which
// cluster a node's data is of while its etcd is stopped — the usual state
// when a restore is needed. It reads the newest file, since older ones
// may predate a restore that made a new cluster.
func DataDirClusterID(dataDir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dataDir, "member", "wal", "*.wal"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no etcd write-ahead log in %s: %w", dataDir, errors.Join(err, os.ErrNotExist))
	}
	sort.Strings(files) // names are SEQ-INDEX in fixed-width hex
	return walClusterID(files[len(files)-1])
}

func walClusterID(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReader(f)
	// The metadata record is among the first few: a CRC record comes first.
	for range 4 {
		rec, err := readWALRecord(r)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", file, err)
		}
		if rec.Type != wal.MetadataType {
			continue
		}
		var md pb.Metadata
		if err := md.Unmarshal(rec.Data); err != nil {
			return "", fmt.Errorf("read %s: metadata: %w", file, err)
		}
		return strconv.FormatUint(md.ClusterID, 16), nil
	}
	return "", fmt.Errorf("read %s: no metadata record at its start", file)
}

// readWALRecord reads one frame as etcd's WAL decoder does: a
// little-endian length whose low 56 bits are the record's size and whose
// top byte, when negative, carries the padding.
func readWALRecord(r io.Reader) (*walpb.Record, error) {
	var n int64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	size := int64(uint64(n) & ^(uint64(0xff) << 56))
	pad := int64(0)
	if n < 0 {
		pad = int64((uint64(n) >> 56) & 0x7)
	}
	if size <= 0 || size > 1<<20 {
		return nil, fmt.Errorf("implausible record size %d", size)
	}
	data := make([]byte, size+pad)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, err
	}
	rec := &walpb.Record{}
	return rec, rec.Unmarshal(data[:size])
}
