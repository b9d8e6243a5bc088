package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kubestrap/kubestrap/config"
)

// fakeBundle writes a tiny stand-in for every bundle binary and a base rootfs.
func fakeBundle(t *testing.T) (binDir, rootfs string) {
	t.Helper()
	binDir, rootfs = t.TempDir(), t.TempDir()
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd",
		"etcdctl", "coredns", "pause", "demo", "flanneld"} {
		if err := os.WriteFile(filepath.Join(binDir, b), []byte("#!/bin/sh\necho "+b+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"usr/sbin/iptables", "usr/bin/containerd", "usr/lib/cni/bridge"} {
		full := filepath.Join(rootfs, p)
		_ = os.MkdirAll(filepath.Dir(full), 0o755)
		_ = os.WriteFile(full, []byte(p), 0o755)
	}
	_ = os.Symlink("iptables", filepath.Join(rootfs, "usr/sbin/iptables-save"))
	return binDir, rootfs
}

func defaultSet(t *testing.T) ImageSet {
	t.Helper()
	c := &config.ClusterConfiguration{}
	config.SetClusterDefaults(c)
	s, err := Images(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func filesOf(t *testing.T, ref, tarPath string) map[string]bool {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	layers, _ := img.Layers()
	files := map[string]bool{}
	for _, l := range layers {
		rc, _ := l.Uncompressed()
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			files["/"+strings.TrimSuffix(h.Name, "/")] = true
		}
		_ = rc.Close()
	}
	return files
}

func TestBuildImages(t *testing.T) {
	binDir, rootfs := fakeBundle(t)
	out := filepath.Join(t.TempDir(), "images.tar")
	set := defaultSet(t)
	if err := BuildImages(BundleImages(set), binDir, rootfs, out); err != nil {
		t.Fatal(err)
	}
	refs, err := InTarball(out)
	if err != nil {
		t.Fatal(err)
	}
	want := append(set.List(), DemoImage)
	if len(refs) != len(want) {
		t.Fatalf("tarball holds %v, want %v", refs, want)
	}
	proxy := filesOf(t, set.Proxy, out)
	if !proxy["/usr/local/bin/kube-proxy"] || !proxy["/usr/sbin/iptables"] || !proxy["/usr/sbin/iptables-save"] ||
		proxy["/usr/bin/containerd"] || proxy["/usr/lib/cni/bridge"] {
		t.Errorf("kube-proxy image files: %v", proxy)
	}
	if f := filesOf(t, set.Flannel, out); !f["/opt/bin/flanneld"] {
		t.Errorf("flannel image files: %v", f)
	}
	if f := filesOf(t, set.APIServer, out); !f["/usr/local/bin/kube-apiserver"] || f["/usr/sbin/iptables"] {
		t.Errorf("apiserver image files: %v", f)
	}
	if _, err := os.Stat(out + ".base.tar"); !errors.Is(err, os.ErrNotExist) {
		t.Error("temporary base layer left behind")
	}
}

func TestBuildImagesMissingBinary(t *testing.T) {
	binDir, rootfs := fakeBundle(t)
	_ = os.Remove(filepath.Join(binDir, "coredns"))
	out := filepath.Join(t.TempDir(), "images.tar")
	err := BuildImages(BundleImages(defaultSet(t)), binDir, rootfs, out)
	if err == nil || !strings.Contains(err.Error(), "make bundle") {
		t.Errorf("got %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a partial tarball was left")
	}
}

// fakeCtr imitates ctr: import adds the tarball's images to its store.
type fakeCtr struct {
	have  map[string]bool
	calls []string
	fail  bool
}

func (f *fakeCtr) run(stdout io.Writer, args ...string) error {
	f.calls = append(f.calls, strings.Join(args, " "))
	switch args[1] {
	case "ls":
		for r := range f.have {
			fmt.Fprintln(stdout, r)
		}
	case "import":
		if f.fail {
			return errors.New("ctr: failed to import")
		}
		refs, _ := InTarball(args[2])
		for _, r := range refs {
			fmt.Fprintf(stdout, "unpacking %s (sha256:0)...done\n", r)
			f.have[r] = true
		}
	}
	return nil
}

func TestLoadImages(t *testing.T) {
	binDir, rootfs := fakeBundle(t)
	out := filepath.Join(t.TempDir(), "images.tar")
	set := defaultSet(t)
	if err := BuildImages(BundleImages(set), binDir, rootfs, out); err != nil {
		t.Fatal(err)
	}
	ctr := &fakeCtr{have: map[string]bool{set.Pause: true}}
	var buf bytes.Buffer
	sum, err := LoadImages(out, ctr.run, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Present) != 1 || len(sum.Loaded) != len(set.List()) {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(buf.String(), "[images]   unpacking registry.k8s.io/etcd:3.6.6-0") ||
		!strings.Contains(buf.String(), "8 loaded, 1 already present") {
		t.Errorf("output:\n%s", buf.String())
	}
	if _, err := LoadImages(out, (&fakeCtr{have: map[string]bool{}, fail: true}).run, io.Discard); err == nil {
		t.Error("a failed import was not reported")
	}
	if _, err := LoadImages(filepath.Join(binDir, "pause"), ctr.run, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "not an image tarball") {
		t.Errorf("bad tarball: %v", err)
	}
}
