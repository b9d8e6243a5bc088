package images

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ContainerdNamespace is where the CRI plugin looks for images.
const ContainerdNamespace = "k8s.io"

// Ctr runs containerd's ctr in the CRI namespace; tests replace it.
type Ctr func(stdout io.Writer, args ...string) error

// CtrTimeout bounds one ctr command: importing the whole images tarball
// takes about a minute on a slow disk, so a run past this is a hung
// containerd, not a slow one.
const CtrTimeout = 15 * time.Minute

// HostCtr runs the host's ctr binary.
func HostCtr(stdout io.Writer, args ...string) error {
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), CtrTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"-n", ContainerdNamespace}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s (is containerd hung? `systemctl status containerd`)", ctx.Err(), CtrTimeout)
		}
		return fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// InTarball lists the references a docker-archive tarball holds.
func InTarball(path string) ([]string, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return nil, fmt.Errorf("%s is not an image tarball: %w", path, err)
	}
	var refs []string
	for _, d := range m {
		refs = append(refs, d.RepoTags...)
	}
	sort.Strings(refs)
	return refs, nil
}

// LoadSummary says what LoadImages did.
type LoadSummary struct {
	// Changed is true when an image was imported.
	Changed bool     `json:"changed"`
	Loaded  []string `json:"loaded"`
	Present []string `json:"alreadyPresent"`
	Seconds float64  `json:"seconds"`
}

// LoadImages imports an image tarball into containerd's k8s.io namespace,
// printing ctr's per-image progress, then checks that every image of the
// tarball is there. Images already present are reported as such.
func LoadImages(path string, ctr Ctr, out io.Writer) (LoadSummary, error) {
	start := time.Now()
	sum := LoadSummary{Loaded: []string{}, Present: []string{}}
	refs, err := InTarball(path)
	if err != nil {
		return sum, err
	}
	before, err := listImages(ctr)
	if err != nil {
		return sum, fmt.Errorf("is containerd running? %w", err)
	}
	if allIn(refs, before) {
		// A re-run (Ansible, kubestrap up) is a quick no-op: importing
		// again would only re-read the whole tarball.
		sum.Present, sum.Seconds = append(sum.Present, refs...), time.Since(start).Seconds()
		fmt.Fprintf(out, "[images] all %d images of %s are already in containerd\n", len(refs), path)
		return sum, nil
	}
	fmt.Fprintf(out, "[images] importing %d images from %s into containerd namespace %s\n", len(refs), path, ContainerdNamespace)
	pw := &prefixWriter{out: out, prefix: "[images]   "}
	if err := ctr(pw, "images", "import", path); err != nil {
		return sum, err
	}
	pw.flush()
	after, err := listImages(ctr)
	if err != nil {
		return sum, err
	}
	for _, r := range refs {
		switch {
		case !after[r]:
			return sum, fmt.Errorf("image %s is not in containerd after the import", r)
		case before[r]:
			sum.Present = append(sum.Present, r)
		default:
			sum.Loaded = append(sum.Loaded, r)
		}
	}
	sum.Seconds, sum.Changed = time.Since(start).Seconds(), len(sum.Loaded) > 0
	fmt.Fprintf(out, "[images] %d loaded, %d already present (%.1fs)\n", len(sum.Loaded), len(sum.Present), sum.Seconds)
	return sum, nil
}

func allIn(refs []string, have map[string]bool) bool {
	for _, r := range refs {
		if !have[r] {
			return false
		}
	}
	return true
}

func listImages(ctr Ctr) (map[string]bool, error) {
	var buf bytes.Buffer
	if err := ctr(&buf, "images", "ls", "-q"); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		have[strings.TrimSpace(sc.Text())] = true
	}
	return have, nil
}

// prefixWriter prefixes each complete line written through it.
type prefixWriter struct {
	out    io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		fmt.Fprintf(p.out, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		fmt.Fprintf(p.out, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}
