package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kubestrap/kubestrap/components/tokens"
	"github.com/kubestrap/kubestrap/layout"
)

// Machine is a host that up and down drive: Run runs a shell script as
// root. name is what progress lines and errors call the script (scripts
// never carry secrets; those travel on stdin into 0600 files).
type Machine interface {
	Run(ctx context.Context, name, script string, stdin io.Reader) ([]byte, error)
	Close() error
}

// Options are up's and down's settings.
type Options struct {
	// AcceptNewHostKeys records unknown host keys in known_hosts.
	AcceptNewHostKeys bool
	// Kubeconfig is where the admin kubeconfig is written locally.
	Kubeconfig string
	// Force makes down reset hosts whose etcd member cannot be removed.
	Force bool
	// Out receives one progress line per step and host.
	Out io.Writer
	// Dial connects to a host; default Dial (SSH).
	Dial func(ctx context.Context, h Host, acceptNew bool) (Machine, error)
	// ReadyTimeout bounds the wait for every node to be Ready.
	ReadyTimeout time.Duration
	// Concurrency is how many workers an upgrade drains and upgrades at
	// once (default 1).
	Concurrency int
}

// Up brings the cluster described by c to its desired state: every host
// has the release and is a node of its role. Hosts already in the cluster
// are left alone, so adding a host to the file and re-running joins only it.
// A host that cannot be reached does not stop the others when a reachable
// control plane of the cluster can stand in for it; up then reports it.
func Up(ctx context.Context, c *Cluster, o Options) (*Report, error) {
	r, err := start(ctx, c, o, "up")
	if err != nil {
		return r.finish(), err
	}
	defer r.closeAll()
	if err := r.each(ctx, r.reachable(), r.probeRole); err != nil {
		return r.finish(), err
	}
	p, err := r.plan()
	if err != nil {
		return r.finish(), err
	}
	if err := r.each(ctx, r.reachable(), r.prepare); err != nil {
		return r.finish(), err
	}
	if err := r.upgrade(ctx, p); err != nil {
		return r.finish(), err
	}
	info, err := r.initCluster(ctx, p)
	if err != nil {
		return r.finish(), err
	}
	r.rep.Endpoint = info.Endpoint
	if err := r.joinAll(ctx, p, info); err != nil {
		return r.finish(), errors.Join(append(append(p.degraded, err), r.unreachableErr())...)
	}
	err = r.each(ctx, p.helpers[:1], func(ctx context.Context, h *hostRun) error {
		if err := r.waitReady(ctx, h); err != nil {
			return err
		}
		return r.fetchKubeconfig(ctx, h)
	})
	return r.finish(), errors.Join(append(append(p.degraded, err), r.unreachableErr())...)
}

// probeRole learns whether a host is already a node, and refuses one whose
// role in the cluster is not the file's, before anything is changed.
func (r *run) probeRole(ctx context.Context, h *hostRun) error {
	if err := timedStep(ctx, h, "probe", func(ctx context.Context) error { return r.probe(ctx, h) }); err != nil {
		return err
	}
	return checkRole(h)
}

// prepare installs the release (and images) on a host and makes the OS
// fixes unless the host is a node already.
func (r *run) prepare(ctx context.Context, h *hostRun) error {
	uploaded, err := r.upload(ctx, h, "release", r.cluster.Spec.Release, remoteRelease(r.cluster.Spec.Release))
	if err != nil {
		return err
	}
	if err := timedStep(ctx, h, "install", func(ctx context.Context) error { return r.install(ctx, h, uploaded) }); err != nil {
		return err
	}
	if err := r.loadImages(ctx, h); err != nil {
		return err
	}
	if h.joined {
		r.step(h, "preflight", false, "skipped: already a node of the cluster", 0)
		return nil
	}
	if r.cluster.Spec.PreflightFix {
		return timedStep(ctx, h, "preflight", func(ctx context.Context) error { return r.preflightFix(ctx, h) })
	}
	return nil
}

// loadImages uploads the images tarball, when the file names one, and
// loads it into containerd.
func (r *run) loadImages(ctx context.Context, h *hostRun) error {
	if r.cluster.Spec.Images == "" {
		return nil
	}
	if _, err := r.upload(ctx, h, "images", r.cluster.Spec.Images, remoteImages(r.cluster.Spec.Images)); err != nil {
		return err
	}
	return timedStep(ctx, h, "images load", func(ctx context.Context) error {
		_, err := r.kubestrapJSON(ctx, h, "images load", "images", "load", remoteImages(r.cluster.Spec.Images))
		return err
	})
}

// probe reads the host's state from kubestrap's records: a finished init
// or join leaves one (an unfinished one does not, so up runs it again and
// it resumes); an API server manifest means a control plane. The init
// record also says whether init uploaded the certificates: a later up must
// ask init for the same, or init refuses the changed configuration.
func (r *run) probe(ctx context.Context, h *hostRun) error {
	kd := layout.KubernetesDir
	rec, join := kd+"/"+layout.InitRecord, kd+"/"+layout.JoinRecord
	out, err := h.m.Run(ctx, "probe", fmt.Sprintf("if test -e %s; then echo init-record; "+
		"grep -qx 'uploadCerts: true' %s && echo upload-certs; fi; "+
		"if test -e %s; then echo join-record; fi; "+
		"if test -e %s/manifests/kube-apiserver.yaml; then echo manifest; fi; "+
		"if test -e %s; then echo \"kubelet $(%s --version 2>/dev/null | awk '{print $NF}')\"; "+
		"sed -n 's/.*--hostname-override=\\([^ \"]*\\).*/node \\1/p' %s 2>/dev/null; fi; true",
		rec, rec, join, kd, layout.KubeletConfPath, layout.KubeletBinary, layout.KubeletDir+"/"+layout.KubeletFlagsFile), nil)
	if err != nil {
		return err
	}
	s := string(out)
	h.initRecord, h.recordUploadCerts = contains(s, "init-record"), contains(s, "upload-certs")
	h.joined = h.initRecord || contains(s, "join-record")
	h.controlPlane = h.initRecord || contains(s, "manifest")
	for _, l := range splitLines(s) {
		if v, ok := strings.CutPrefix(l, "kubelet "); ok {
			h.kubeletVersion = v
		}
		if v, ok := strings.CutPrefix(l, "node "); ok {
			h.nodeName = v
		}
	}
	return nil
}

// checkRole refuses a host whose role in the cluster is not the file's.
func checkRole(h *hostRun) error {
	if h.joined && h.controlPlane != (h.Role == RoleControlPlane) {
		return fmt.Errorf("%s is a %s in the cluster, but the file says role: %s: fix the file, or `kubestrap down` the host first",
			h.ID(), roleOf(h.controlPlane), h.Role)
	}
	return nil
}

func roleOf(cp bool) string {
	if cp {
		return RoleControlPlane
	}
	return RoleWorker
}

// preflightFix makes the OS fixes (containerd's CRI, modules, sysctls,
// swap). Errors that remain are reported, not fatal: init and join run the
// checks of the host's role themselves and refuse with the fix.
func (r *run) preflightFix(ctx context.Context, h *hostRun) error {
	t0 := time.Now()
	res, err := r.kubestrapJSONRaw(ctx, h, "preflight", "preflight", "--fix")
	var ce *CommandError
	if errors.As(err, &ce) && ce.Status == 3 {
		r.step(h, "preflight", res.Changed, "problems remain; init/join will name them", time.Since(t0))
		return nil
	}
	if err != nil {
		return err
	}
	r.step(h, "preflight", res.Changed, "fixes: "+describeFixes(res.raw), time.Since(t0))
	return nil
}

func newCertificateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// uploadCerts uploads the control-plane certificates again under a new
// key. The key reaches kubestrap in a 0600 copy of init's configuration, not
// on the command line (ps and sudo's log show that), and the copy is removed
// even when the run is cancelled.
func (r *run) uploadCerts(ctx context.Context, h *hostRun) (key string, err error) {
	if key, err = newCertificateKey(); err != nil {
		return "", err
	}
	cfg, err := uploadCertsConfig(r.cluster, h.Host, key)
	if err != nil {
		return "", err
	}
	path := upDir + "/upload-certs.yaml"
	defer func() { err = errors.Join(err, removeSecret(ctx, h, path)) }()
	if _, err := r.putFile(ctx, h, path, cfg, "0600"); err != nil {
		return "", err
	}
	err = timedStep(ctx, h, "upload-certs", func(ctx context.Context) error {
		_, err := h.m.Run(ctx, "kubestrap init phase upload-certs", detachedScript("kubestrap init phase upload-certs",
			kubestrapCmd("init", "phase", "upload-certs", "--config", path, "--upload-certs")), nil)
		return err
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// join runs `kubestrap join` with a JoinConfiguration written to a 0600
// file (the token never appears on a command line), then removes the file,
// also when the join fails or the run is cancelled.
func (r *run) join(ctx context.Context, h *hostRun, info tokens.JoinInfo) (err error) {
	cfg, err := joinConfig(h.Host, info)
	if err != nil {
		return err
	}
	path := upDir + "/join.yaml"
	defer func() { err = errors.Join(err, removeSecret(ctx, h, path)) }()
	if _, err := r.putFile(ctx, h, path, cfg, "0600"); err != nil {
		return err
	}
	args := []string{"join", "--config", path}
	if h.NodeIP != "" {
		args = append(args, "--node-ip", h.NodeIP)
	}
	t0 := time.Now()
	var res result
	err = timedStep(ctx, h, "join", func(ctx context.Context) (err error) {
		res, err = r.kubestrapJSONRaw(ctx, h, "join", args...)
		return err
	})
	if err != nil {
		return err
	}
	r.step(h, "join", res.Changed, "joined as "+h.Role, time.Since(t0))
	h.joined = true
	return nil
}

// removeTimeout bounds the removal of a secret file, which runs on a
// context of its own.
const removeTimeout = 30 * time.Second

// removeSecret removes a file holding a secret, and the temporary file an
// interrupted write leaves. ctx's cancellation (Ctrl-C) is ignored: it is
// what most needs the file gone.
func removeSecret(ctx context.Context, h *hostRun, path string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	_, err := h.m.Run(ctx, "remove "+path, "rm -f "+shellQuote(path)+" "+shellQuote(path)+".tmp*", nil)
	return err
}

// waitReady waits until every node is Ready (the pod network is up on
// each), so that up returns a usable cluster.
func (r *run) waitReady(ctx context.Context, first *hostRun) error {
	t0 := time.Now()
	timeout := r.opts.ReadyTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	script := fmt.Sprintf("/usr/local/bin/kubectl --kubeconfig %s wait --for=condition=Ready node --all --timeout=%ds",
		layout.AdminConfPath, int(timeout.Seconds()))
	err := timed(ctx, first, "wait for Ready nodes", timeout+waitSlack, func(ctx context.Context) error {
		_, err := first.m.Run(ctx, "wait for Ready nodes", script, nil)
		return err
	})
	if err != nil {
		return err
	}
	r.step(first, "nodes ready", false, fmt.Sprintf("%d host(s)", len(r.hosts)), time.Since(t0))
	return nil
}

func contains(s, line string) bool {
	for _, l := range splitLines(s) {
		if l == line {
			return true
		}
	}
	return false
}
