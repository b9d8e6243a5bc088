package fleet

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubestrap/kubestrap/components/tokens"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/parallel"
)

// upDir holds what up puts on a host: the release, the images, configs.
const upDir = layout.StateDir + "/up"

// kubestrapPath is where the release's install.sh puts kubestrap. sudo's
// secure_path on CentOS 7 leaves /usr/local/bin out, so it is absolute.
const kubestrapPath = "/usr/local/bin/kubestrap"

// Report is what up and down print with -o json.
type Report struct {
	Changed    bool         `json:"changed"`
	Cluster    string       `json:"cluster"`
	Endpoint   string       `json:"endpoint,omitempty"`
	Kubeconfig string       `json:"kubeconfig,omitempty"`
	Hosts      []HostReport `json:"hosts"`
	Seconds    float64      `json:"seconds"`
	Error      string       `json:"error,omitempty"`
}

// HostReport is one host's steps.
type HostReport struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
	Role    string `json:"role"`
	Changed bool   `json:"changed"`
	Steps   []Step `json:"steps"`
	Error   string `json:"error,omitempty"`
}

// Step is one thing done (or found done) on a host.
type Step struct {
	Name    string  `json:"name"`
	Changed bool    `json:"changed"`
	Detail  string  `json:"detail,omitempty"`
	Seconds float64 `json:"seconds"`
}

type hostRun struct {
	Host
	m                    Machine
	rep                  *HostReport
	joined, controlPlane bool
	installed            bool // down: kubestrap is on the host
	// initRecord: init finished here (its record is on the host);
	// recordUploadCerts: and it uploaded the certificates.
	initRecord, recordUploadCerts bool
	// kubeletVersion and nodeName: what a node of the cluster runs, and
	// its Node's name (the probe reads them).
	kubeletVersion, nodeName string
	// dialErr: up could not reach the host (an *UnreachableError).
	dialErr error
}

// run is one up or down.
type run struct {
	cluster *Cluster
	opts    Options
	verb    string
	hosts   []*hostRun
	rep     *Report
	t0      time.Time
	mu      sync.Mutex // guards rep and progress lines
	sums    *sumCache
}

// start connects to every host at once; any failure (an unknown or
// changed host key above all) stops the run before anything is changed.
// Only up goes on without an unreachable host: its plan decides whether
// the others can do without it.
func start(ctx context.Context, c *Cluster, o Options, verb string) (*run, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Dial == nil {
		o.Dial = Dial
	}
	r := &run{cluster: c, opts: o, verb: verb, rep: &Report{Cluster: c.name(), Kubeconfig: o.Kubeconfig},
		t0: time.Now(), sums: &sumCache{sums: map[string]string{}}}
	r.rep.Hosts = make([]HostReport, len(c.Spec.Hosts))
	for i, h := range c.Spec.Hosts {
		r.rep.Hosts[i] = HostReport{Address: h.Address, Name: h.Name, Role: h.Role, Steps: []Step{}}
		r.hosts = append(r.hosts, &hostRun{Host: h, rep: &r.rep.Hosts[i]})
	}
	err := r.each(ctx, r.hosts, func(ctx context.Context, h *hostRun) error {
		m, err := o.Dial(ctx, h.Host, o.AcceptNewHostKeys)
		h.m = m
		var ue *UnreachableError
		if verb == "up" && errors.As(err, &ue) {
			h.dialErr = err
			return nil
		}
		return err
	})
	if err != nil {
		r.closeAll()
	}
	return r, err
}

// reachable are the hosts up could connect to.
func (r *run) reachable() []*hostRun {
	var out []*hostRun
	for _, h := range r.hosts {
		if h.m != nil {
			out = append(out, h)
		}
	}
	return out
}

// unreachableErr names every host up could not connect to, or is nil.
func (r *run) unreachableErr() error {
	var errs []error
	for _, h := range r.hosts {
		if h.dialErr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.ID(), h.dialErr))
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) name() string { return firstNonEmpty(c.Metadata.Name, "kubestrap") }

func (r *run) closeAll() {
	for _, h := range r.hosts {
		if h.m != nil {
			_ = h.m.Close()
			h.m = nil
		}
	}
}

func (r *run) finish() *Report {
	r.rep.Seconds = seconds(time.Since(r.t0))
	for _, h := range r.rep.Hosts {
		r.rep.Changed = r.rep.Changed || h.Changed
	}
	return r.rep
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// each runs fn for the hosts in parallel; errors are recorded per host and
// returned together, each naming its host.
func (r *run) each(ctx context.Context, hosts []*hostRun, fn func(context.Context, *hostRun) error) error {
	return parallel.Do(len(hosts), func(i int) error {
		h := hosts[i]
		err := fn(ctx, h)
		if err == nil {
			return nil
		}
		r.mu.Lock()
		h.rep.Error = err.Error()
		r.mu.Unlock()
		fmt.Fprintf(r.opts.Out, "[%s] %s: FAILED: %v\n", r.verb, h.ID(), err)
		if !namesHost(err) {
			err = fmt.Errorf("%s: %w", h.ID(), err)
		}
		return err
	})
}

// step records a step and prints its progress line.
func (r *run) step(h *hostRun, name string, changed bool, detail string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h.rep.Steps = append(h.rep.Steps, Step{Name: name, Changed: changed, Detail: detail, Seconds: seconds(d)})
	h.rep.Changed = h.rep.Changed || changed
	state := "ok"
	if changed {
		state = "changed"
	}
	fmt.Fprintf(r.opts.Out, "[%s] %s: %s: %s, %s (%.1fs)\n", r.verb, h.ID(), name, state, detail, d.Seconds())
}

// sumCache computes each local file's sha256 once for all hosts.
type sumCache struct {
	mu   sync.Mutex
	sums map[string]string
}

func (s *sumCache) sum(p string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.sums[p]; ok {
		return v, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	s.sums[p] = hex.EncodeToString(h.Sum(nil))
	return s.sums[p], nil
}

// upload copies a local file to the host unless the host has it already:
// the same size and a recorded sha256 (written beside it after an upload,
// so that a re-run need not hash hundreds of megabytes on every host). Its
// deadline grows with the file.
func (r *run) upload(ctx context.Context, h *hostRun, what, local, remote string) (changed bool, err error) {
	st, err := os.Stat(local)
	if err != nil {
		return false, err
	}
	err = timed(ctx, h, "upload "+what, uploadTimeout(st.Size()), func(ctx context.Context) error {
		changed, err = r.uploadFile(ctx, h, what, local, remote, st.Size())
		return err
	})
	return changed, err
}

func (r *run) uploadFile(ctx context.Context, h *hostRun, what, local, remote string, size int64) (bool, error) {
	t0 := time.Now()
	want, err := r.sums.sum(local)
	if err != nil {
		return false, err
	}
	q := shellQuote(remote)
	out, err := h.m.Run(ctx, "sha256 of "+remote, fmt.Sprintf(
		"test \"$(stat -c %%s %s 2>/dev/null)\" = %d && cat %s.sha256 2>/dev/null; true", q, size, q), nil)
	if err != nil {
		return false, err
	}
	if strings.TrimSpace(string(out)) == want {
		r.step(h, what, false, "already there (same size and sha256)", time.Since(t0))
		return false, nil
	}
	f, err := os.Open(local)
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Close() }()
	// The old checksum goes first: were the upload cut off after the
	// rename, it would vouch for the new file, and a later run with the old
	// file again would skip the upload.
	if _, err := h.m.Run(ctx, "remove "+remote+".sha256", "rm -f "+shellQuote(remote+".sha256"), nil); err != nil {
		return false, err
	}
	if err := put(ctx, h.m, remote, f, size, "0644"); err != nil {
		return false, err
	}
	// The host checks what arrived before recording it.
	check := fmt.Sprintf("test \"$(sha256sum %s | cut -d' ' -f1)\" = %s && echo %s >%s.sha256", q, want, want, q)
	if _, err := h.m.Run(ctx, "check "+remote, check, nil); err != nil {
		return false, fmt.Errorf("%s arrived damaged (sha256 differs): %w", remote, err)
	}
	r.step(h, what, true, fmt.Sprintf("uploaded %s (%.1f MB)", filepath.Base(local), float64(size)/1e6), time.Since(t0))
	return true, nil
}

// put writes stdin to a temporary file of its own beside remote and
// renames it only once all size bytes arrived. A session cut off mid-upload
// may live on, hung, on the host; when its stdin finally closes it must
// neither rename a partial file into place nor take the temporary file of
// the run that uploads again (found in the lab: it did both).
func put(ctx context.Context, m Machine, remote string, r io.Reader, size int64, mode string) error {
	q := shellQuote(remote)
	script := fmt.Sprintf("umask 077 && mkdir -p %s && t=$(mktemp %s.tmp.XXXXXX) && { cat >\"$t\" && "+
		"test \"$(wc -c <\"$t\")\" -eq %d && chmod %s \"$t\" && mv -f \"$t\" %s || { rm -f \"$t\"; exit 1; }; }",
		shellQuote(path.Dir(remote)), q, size, mode, q)
	_, err := m.Run(ctx, "write "+remote, script, r)
	return err
}

// putFile writes small content (a config) when it differs from what the
// host has.
func (r *run) putFile(ctx context.Context, h *hostRun, remote string, data []byte, mode string) (bool, error) {
	sum := sha256.Sum256(data)
	out, err := h.m.Run(ctx, "sha256sum "+remote, fmt.Sprintf("sha256sum %s 2>/dev/null || true", shellQuote(remote)), nil)
	if err != nil {
		return false, err
	}
	if f := strings.Fields(string(out)); len(f) > 0 && f[0] == hex.EncodeToString(sum[:]) {
		return false, nil
	}
	return true, put(ctx, h.m, remote, bytes.NewReader(data), int64(len(data)), mode)
}

func remoteRelease(local string) string { return upDir + "/" + filepath.Base(local) }
func remoteImages(local string) string  { return upDir + "/" + filepath.Base(local) }

// install unpacks the release (when it was uploaded or is not unpacked)
// and runs its install.sh, which reports whether it changed anything.
func (r *run) install(ctx context.Context, h *hostRun, uploaded bool) error {
	top, err := releaseDir(r.cluster.Spec.Release)
	if err != nil {
		return err
	}
	dir := upDir + "/" + top
	unpack := fmt.Sprintf("cd %s && rm -rf %s && tar -xzf %s", upDir, shellQuote(top), shellQuote(filepath.Base(r.cluster.Spec.Release)))
	if !uploaded {
		unpack = fmt.Sprintf("test -x %s/install.sh || { %s; }", shellQuote(dir), unpack)
	}
	t0 := time.Now()
	out, err := h.m.Run(ctx, "install", unpack+" && "+shellQuote(dir+"/install.sh")+" -o json", nil)
	if err != nil {
		return err
	}
	res, err := parseResult(out)
	if err != nil {
		return fmt.Errorf("install.sh: %w", err)
	}
	r.step(h, "install", res.Changed, "kubestrap, kubelet and kubectl in /usr/local", time.Since(t0))
	return nil
}

// releaseDir is the release tarball's top directory.
func releaseDir(tarball string) (string, error) {
	f, err := os.Open(tarball)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", tarball, err)
	}
	hdr, err := tar.NewReader(gz).Next()
	if err != nil {
		return "", fmt.Errorf("%s: %w", tarball, err)
	}
	top, _, _ := strings.Cut(strings.TrimPrefix(hdr.Name, "./"), "/")
	if top == "" || top == ".." {
		return "", fmt.Errorf("%s: not a kubestrap release (no top directory)", tarball)
	}
	return top, nil
}

// result is the object every `kubestrap ... -o json` prints.
type result struct {
	Changed bool   `json:"changed"`
	Error   string `json:"error"`
	raw     []byte
}

func (res result) decode(v any) error { return json.Unmarshal(res.raw, v) }

func parseResult(out []byte) (result, error) {
	res := result{raw: bytes.TrimSpace(out)}
	if err := json.Unmarshal(res.raw, &res); err != nil {
		return res, fmt.Errorf("not the JSON object the command promises (%v): %.200q", err, out)
	}
	return res, nil
}

func kubestrapCmd(args ...string) string {
	q := make([]string, 0, len(args)+2)
	q = append(q, kubestrapPath)
	for _, a := range args {
		q = append(q, shellQuote(a))
	}
	return strings.Join(append(q, "-o", "json"), " ")
}

// kubestrapJSONRaw runs a kubestrap command with -o json on the host and
// returns its object; a failure is the command's own error message.
func (r *run) kubestrapJSONRaw(ctx context.Context, h *hostRun, name string, args ...string) (result, error) {
	out, err := h.m.Run(ctx, "kubestrap "+name, detachedScript(name, kubestrapCmd(args...)), nil)
	res, perr := parseResult(out)
	var ce *CommandError
	if errors.As(err, &ce) && perr == nil && res.Error != "" {
		return res, &CommandError{Command: "kubestrap " + name, Status: ce.Status, Stderr: res.Error}
	}
	if err != nil {
		return res, err
	}
	return res, perr
}

// kubestrapJSON runs a kubestrap command and records it as a step.
func (r *run) kubestrapJSON(ctx context.Context, h *hostRun, name string, args ...string) (result, error) {
	t0 := time.Now()
	res, err := r.kubestrapJSONRaw(ctx, h, name, args...)
	if err == nil {
		r.step(h, name, res.Changed, "kubestrap "+strings.Join(args, " "), time.Since(t0))
	}
	return res, err
}

func describeFixes(raw []byte) string {
	var v struct {
		Fixes []struct {
			Name string `json:"name"`
		} `json:"fixes"`
	}
	_ = json.Unmarshal(raw, &v)
	names := make([]string, 0, len(v.Fixes))
	for _, f := range v.Fixes {
		names = append(names, f.Name)
	}
	if len(names) == 0 {
		return "none needed"
	}
	return strings.Join(names, ", ")
}

func splitLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// initConfig is the first control plane's config file: the file's init
// and cluster documents, with the host's name and node IP, and the
// certificates uploaded when more control planes will join. On a host init
// finished on, uploadCerts is what init recorded: init compares its record
// with the config and refuses a change, and a control plane added to the
// file later gets its certificates from upload-certs anyway.
func initConfig(c *Cluster, h *hostRun) ([]byte, error) {
	ic := initDocs(c, h.Host)
	if h.initRecord {
		ic.UploadCerts = h.recordUploadCerts
	}
	return config.MarshalInit(ic)
}

// uploadCertsConfig is initConfig with the certificate key the
// certificates are to be encrypted with: it is only ever written to a 0600
// file.
func uploadCertsConfig(c *Cluster, h Host, key string) ([]byte, error) {
	ic := initDocs(c, h)
	ic.CertificateKey, ic.UploadCerts = key, true
	return config.MarshalInit(ic)
}

func initDocs(c *Cluster, h Host) *config.Init {
	var ic config.Init
	if c.Spec.Init != nil {
		ic.InitConfiguration = *c.Spec.Init // a shallow copy: only scalars are set below
	}
	if c.Spec.Cluster != nil {
		ic.Cluster = *c.Spec.Cluster
	}
	ic.InitConfiguration.TypeMeta = metav1.TypeMeta{APIVersion: config.APIVersion, Kind: config.KindInit}
	ic.Cluster.TypeMeta = metav1.TypeMeta{APIVersion: config.APIVersion, Kind: config.KindCluster}
	ic.NodeRegistration.Name = firstNonEmpty(h.Name, ic.NodeRegistration.Name)
	ic.LocalAPIEndpoint.AdvertiseAddress = firstNonEmpty(ic.LocalAPIEndpoint.AdvertiseAddress, h.NodeIP)
	if len(c.ControlPlanes()) > 1 {
		ic.UploadCerts = true
	}
	return &ic
}

// joinConfig is a joining host's JoinConfiguration.
func joinConfig(h Host, info tokens.JoinInfo) ([]byte, error) {
	jc := config.JoinConfiguration{
		TypeMeta:         metav1.TypeMeta{APIVersion: config.APIVersion, Kind: config.KindJoin},
		NodeRegistration: config.NodeRegistrationOptions{Name: h.Name},
		Discovery: config.Discovery{BootstrapToken: &config.BootstrapTokenDiscovery{
			Token: info.Token, APIServerEndpoint: info.Endpoint, CACertHashes: info.CACertHashes}},
	}
	if h.Role == RoleControlPlane {
		jc.ControlPlane = &config.JoinControlPlane{CertificateKey: info.CertificateKey,
			LocalAPIEndpoint: config.APIEndpoint{AdvertiseAddress: h.NodeIP}}
	}
	return config.MarshalJoin(&jc)
}

// fetchKubeconfig writes the cluster's admin kubeconfig locally (0600,
// atomically), only when it differs from what is there.
func (r *run) fetchKubeconfig(ctx context.Context, first *hostRun) error {
	if r.opts.Kubeconfig == "" {
		return nil
	}
	t0 := time.Now()
	var data []byte
	err := timedStep(ctx, first, "kubeconfig", func(ctx context.Context) (err error) {
		data, err = first.m.Run(ctx, "read admin.conf", "cat "+layout.AdminConfPath, nil)
		return err
	})
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(r.opts.Kubeconfig); err == nil && bytes.Equal(old, data) {
		r.step(first, "kubeconfig", false, r.opts.Kubeconfig+" is current", time.Since(t0))
		return nil
	}
	if err := node.WriteFileAtomic(r.opts.Kubeconfig, data, 0o600); err != nil {
		return err
	}
	r.step(first, "kubeconfig", true, "admin kubeconfig written to "+r.opts.Kubeconfig, time.Since(t0))
	return nil
}
