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
)

// etcdMember is the entry etcd makes in its data dir (member/snap and
// member/wal); etcd writes nothing else there.
const etcdMember = "member"

// beforeRestore is in the name of the copy `kubestrap etcd restore` keeps
// of the data dir it replaced (DATADIR.before-restore-TIME, beside it).
const beforeRestore = ".before-restore-"

var keptEtcdData = Left{Why: "etcd data kubestrap set aside rather than delete (a join found the member removed, " +
	"or a restore replaced it): it may be the only copy of that data",
	HowToRevert: "remove it yourself once you are sure no one needs it"}

// EtcdDataDirOwned is what reset removes from an etcd data dir: etcd's
// member directory and nothing else, so that a data dir set to a shared
// directory loses only etcd's data. Data set aside (member.stale-TIME by
// join, *.before-restore-* by restore) stays, reported.
func EtcdDataDirOwned() Owned {
	return Owned{Entries: []string{etcdMember},
		Kept: map[string]Left{etcdMember + ".stale-*": keptEtcdData, "*" + beforeRestore + "*": keptEtcdData}}
}

// CleanEtcdDataDir cleans an etcd data dir with EtcdDataDirOwned and
// reports the copies restore left beside it, which stay.
func (f Files) CleanEtcdDataDir(dir string) (bool, error) {
	gone, err := f.Clean(dir, EtcdDataDirOwned())
	if err != nil {
		return gone, err
	}
	copies, err := siblings(f, dir, filepath.Base(dir)+beforeRestore+"*")
	if len(copies) > 0 {
		l := keptEtcdData
		l.What = strings.Join(copies, ", ")
		f.Report.Leave(l)
	}
	return gone, err
}

// siblings are the host paths beside dir whose names match pattern.
func siblings(f Files, dir, pattern string) ([]string, error) {
	parent := filepath.Dir(filepath.Clean(dir))
	entries, err := os.ReadDir(f.Root.Path(parent))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []string
	for _, e := range entries {
		if ok, _ := path.Match(pattern, e.Name()); ok {
			out = append(out, filepath.Join(parent, e.Name()))
		}
	}
	sort.Strings(out)
	return out, err
}

// CertificatesDirOwned is what kubestrap writes into a certificates dir:
// the files of certs.Tree (BaseName + .crt and .key) and the service
// account pair of certs/pki.go's EnsureServiceAccountKey, the same as
// certs/upload.go's uploadFiles downloads on joining control planes. Keep
// it in step with certs/tree.go. An admin's own files there stay.
func CertificatesDirOwned() Owned {
	pairs := func(bases ...string) []string {
		var out []string
		for _, b := range bases {
			out = append(out, b+".crt", b+".key")
		}
		return out
	}
	return Owned{
		Entries: append(pairs("ca", "front-proxy-ca", "apiserver", "apiserver-kubelet-client", "front-proxy-client",
			"apiserver-etcd-client"), "sa.key", "sa.pub", "encryption-config.yaml"),
		Dirs: map[string]Owned{"etcd": {Entries: pairs("ca", "server", "peer", "healthcheck-client")}},
	}
}

// sharedDirs are directories the host shares with other software; one of
// them as a data dir would have reset (or a restore) treat all of it as
// kubestrap's.
var sharedDirs = []string{"/", "/etc", "/etc/kubernetes", "/var", "/var/lib", "/var/lib/kubelet", "/var/log",
	"/var/tmp", "/home", "/root", "/usr", "/usr/local", "/opt", "/srv", "/mnt", "/media", "/tmp", "/run", "/boot"}

// CheckDataDir refuses, for a configured data dir such as etcd's, a
// relative path, and a directory the host shares (or a parent of one):
// kubestrap owns its data dir, and reset cleans it.
func CheckDataDir(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%q is a relative path: use a directory of its own, such as /var/lib/etcd, by its absolute path", p)
	}
	c := filepath.Clean(p)
	if filepath.Dir(c) == "/home" {
		return fmt.Errorf("%q is a home directory: use a directory of its own, such as /var/lib/etcd", p)
	}
	for _, d := range sharedDirs {
		if c == d || strings.HasPrefix(d, c+"/") {
			return fmt.Errorf("%q is a directory the host shares with other software: "+
				"use a directory of its own, such as /var/lib/etcd", p)
		}
	}
	return nil
}
