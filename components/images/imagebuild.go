package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DemoImage is the lab's test server image (bundle/small/demo).
const DemoImage = "kubestrap.io/demo:v1"

// File puts one bundle binary into an image.
type File struct {
	Binary string // file name in the bundle's bin dir
	Path   string // absolute path in the image
}

// Spec declares one image of the bundle.
type Spec struct {
	Ref   string
	Files []File
	// WithBase adds the OS layer (iptables, conntrack, ...) for components
	// that exec host networking tools: kube-proxy and flanneld.
	WithBase   bool
	Entrypoint []string
}

// BundleImages declares every image the bundle ships for an image set,
// plus the demo image; refs come from the same ImageSet as the manifests.
func BundleImages(s ImageSet) []Spec {
	bin := func(b string) []File { return []File{{b, "/usr/local/bin/" + b}} }
	specs := []Spec{
		{Ref: s.APIServer, Files: bin("kube-apiserver")},
		{Ref: s.ControllerManager, Files: bin("kube-controller-manager")},
		{Ref: s.Scheduler, Files: bin("kube-scheduler")},
		{Ref: s.Proxy, Files: bin("kube-proxy"), WithBase: true},
		{Ref: s.Etcd, Files: append(bin("etcd"), bin("etcdctl")...)},
		{Ref: s.CoreDNS, Files: []File{{"coredns", "/coredns"}}, Entrypoint: []string{"/coredns"}},
		{Ref: s.Pause, Files: []File{{"pause", "/pause"}}, Entrypoint: []string{"/pause"}},
		{Ref: DemoImage, Files: []File{{"demo", "/demo"}}, Entrypoint: []string{"/demo"}},
	}
	if s.Flannel != "" {
		// /opt/bin/flanneld is where flannel's own image keeps it, so one
		// DaemonSet works with either image.
		specs = append(specs, Spec{Ref: s.Flannel, Files: []File{{"flanneld", "/opt/bin/flanneld"}},
			WithBase: true, Entrypoint: []string{"/opt/bin/flanneld"}})
	}
	return specs
}

// baseExcludes are parts of the node root file system that no component
// image needs: the container runtime, systemd, CNI plugins, and what the
// lab's nodes have for SSH drivers (sshd, sudo, python3 for Ansible).
var baseExcludes = []string{"usr/bin/containerd", "usr/bin/ctr", "usr/sbin/runc", "usr/lib/cni", "usr/lib/systemd",
	"lib/systemd", "usr/bin/systemd", "var/cache", "var/log", "usr/share/doc", "usr/share/man", "usr/sbin/sshd",
	"usr/lib/python3", "usr/bin/python3", "usr/bin/sudo"}

// BuildImages writes every spec as one docker-archive tarball (the format
// `ctr images import` and `docker load` read). Binaries come from binDir;
// baseRootfs is the directory the base layer is made of.
func BuildImages(specs []Spec, binDir, baseRootfs, out string) error {
	var base v1.Layer
	baseTar := out + ".base.tar"
	defer func() { _ = os.Remove(baseTar) }()
	images := map[name.Reference]v1.Image{}
	for _, s := range specs {
		ref, err := name.ParseReference(s.Ref)
		if err != nil {
			return fmt.Errorf("image %s: %w", s.Ref, err)
		}
		img := empty.Image
		if s.WithBase {
			if base == nil {
				if base, err = dirLayer(baseRootfs, baseExcludes, baseTar); err != nil {
					return fmt.Errorf("base layer from %s: %w", baseRootfs, err)
				}
			}
			if img, err = mutate.AppendLayers(img, base); err != nil {
				return err
			}
		}
		if img, err = withBinaries(img, binDir, s); err != nil {
			return fmt.Errorf("image %s: %w", s.Ref, err)
		}
		images[ref] = img
	}
	tmp := out + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, images); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}

func withBinaries(img v1.Image, binDir string, s Spec) (v1.Image, error) {
	layer, err := filesLayer(binDir, s.Files)
	if err != nil {
		return nil, err
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.Entrypoint = s.Entrypoint
	return mutate.ConfigFile(img, cf)
}

// filesLayer makes a layer holding the given binaries and their parent
// directories.
func filesLayer(binDir string, files []File) (v1.Layer, error) {
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f.Path); d != "/"; d = filepath.Dir(d) {
			dirs[strings.TrimPrefix(d, "/")+"/"] = true
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range names {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(binDir, f.Binary))
		if err != nil {
			return nil, fmt.Errorf("%w (run `make bundle` first)", err)
		}
		hdr := &tar.Header{Name: strings.TrimPrefix(f.Path, "/"), Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithCompressionLevel(gzip.BestSpeed))
}

// dirLayer makes a layer of a directory tree (files, directories and
// symlinks with their modes and owners), leaving out excluded prefixes.
func dirLayer(root string, excludes []string, tarPath string) (v1.Layer, error) {
	f, err := os.Create(tarPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	tw := tar.NewWriter(f)
	err = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, x := range excludes {
			if rel == x || strings.HasPrefix(rel, x) {
				if info.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		return addToTar(tw, p, rel, info)
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return tarball.LayerFromFile(f.Name(), tarball.WithCompressionLevel(gzip.BestSpeed))
}

func addToTar(tw *tar.Writer, path, rel string, info os.FileInfo) error {
	link := ""
	switch {
	case info.Mode()&os.ModeSymlink != 0:
		l, err := os.Readlink(path)
		if err != nil {
			return err
		}
		link = l
	case !info.IsDir() && !info.Mode().IsRegular():
		return nil // devices, sockets and fifos have no place in an image layer
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if info.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	_, err = io.Copy(tw, src)
	return err
}
