package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
}

// Up brings the cluster described by c to its desired state: every host
// has the release and is a node of its role. Hosts already in the cluster
// are left alone, so adding a host to the file and re-running joins only it.
func Up(ctx context.Context, c *Cluster, o Options) (*Report, error) {
	r, err := start(ctx, c, o, "up")
	if err != nil {
		return r.finish(), err
	}
	defer r.closeAll()
	if err := r.each(ctx, r.hosts, r.prepare); err != nil {
		return r.finish(), err
	}
	first := r.initHost()
	info, err := r.init(ctx, first)
	if err != nil {
		return r.finish(), err
	}
	r.rep.Endpoint = info.Endpoint
	if err := r.joinAll(ctx, first, info); err != nil {
		return r.finish(), err
	}
	if err := r.waitReady(ctx, first); err != nil {
		return r.finish(), err
	}
	err = r.fetchKubeconfig(ctx, first)
	return r.finish(), err
}

// prepare installs the release (and images) on a host and learns whether
// it is already a node.
func (r *run) prepare(ctx context.Context, h *hostRun) error {
	uploaded, err := r.upload(ctx, h, "release", r.cluster.Spec.Release, remoteRelease(r.cluster.Spec.Release))
	if err != nil {
		return err
	}
	if err := r.install(ctx, h, uploaded); err != nil {
		return err
	}
	if r.cluster.Spec.Images != "" {
		if _, err := r.upload(ctx, h, "images", r.cluster.Spec.Images, remoteImages(r.cluster.Spec.Images)); err != nil {
			return err
		}
		if _, err := r.kubestrapJSON(ctx, h, "images load", "images", "load", remoteImages(r.cluster.Spec.Images)); err != nil {
			return err
		}
	}
	if err := r.probe(ctx, h); err != nil {
		return err
	}
	if err := checkRole(h); err != nil {
		return err
	}
	if h.joined {
		r.step(h, "preflight", false, "skipped: already a node of the cluster", 0)
		return nil
	}
	if r.cluster.Spec.PreflightFix {
		return r.preflightFix(ctx, h)
	}
	return nil
}

// probe reads the host's state from kubestrap's records: a finished init
// or join leaves one (an unfinished one does not, so up runs it again and
// it resumes); an API server manifest means a control plane.
func (r *run) probe(ctx context.Context, h *hostRun) error {
	kd := layout.KubernetesDir
	out, err := h.m.Run(ctx, "probe", fmt.Sprintf("if test -e %s/%s || test -e %s/%s; then echo node; fi; "+
		"if test -e %s/%s || test -e %s/manifests/kube-apiserver.yaml; then echo control-plane; fi",
		kd, layout.InitRecord, kd, layout.JoinRecord, kd, layout.InitRecord, kd), nil)
	if err != nil {
		return err
	}
	s := string(out)
	h.joined, h.controlPlane = contains(s, "node"), contains(s, "control-plane")
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

// initHost is the control plane that runs init: one already initialized
// (the file's order may have changed), else the first in the file.
func (r *run) initHost() *hostRun {
	var first *hostRun
	for _, h := range r.hosts {
		if h.Role != RoleControlPlane {
			continue
		}
		if h.controlPlane {
			return h
		}
		if first == nil {
			first = h
		}
	}
	return first
}

// init runs `kubestrap init` on the first control plane with the file's
// configuration; on an initialized node it is a no-op that returns the join
// information (with init's token while it is valid).
func (r *run) init(ctx context.Context, h *hostRun) (tokens.JoinInfo, error) {
	var info tokens.JoinInfo
	cfg, err := initConfig(r.cluster, h.Host)
	if err != nil {
		return info, err
	}
	if _, err := r.putFile(ctx, h, upDir+"/init.yaml", cfg, "0600"); err != nil {
		return info, err
	}
	t0 := time.Now()
	res, err := r.kubestrapJSONRaw(ctx, h, "init", "init", "--config", upDir+"/init.yaml")
	if err != nil {
		return info, err
	}
	if err := res.decode(&info); err != nil {
		return info, err
	}
	detail := "already initialized"
	if res.Changed {
		detail = "initialized; API server " + info.Endpoint
	}
	r.step(h, "init", res.Changed, detail, time.Since(t0))
	h.joined, h.controlPlane = true, true
	return info, nil
}

// joinAll joins the control planes one at a time (etcd adds one learner at
// a time), then the workers at once.
func (r *run) joinAll(ctx context.Context, first *hostRun, info tokens.JoinInfo) error {
	var cps, workers []*hostRun
	for _, h := range r.hosts {
		switch {
		case h.joined:
		case h.Role == RoleControlPlane:
			cps = append(cps, h)
		default:
			workers = append(workers, h)
		}
	}
	if len(cps)+len(workers) == 0 {
		return nil
	}
	info, err := r.joinData(ctx, first, info, len(cps) > 0)
	if err != nil {
		return err
	}
	for _, h := range cps {
		if err := r.join(ctx, h, info); err != nil {
			return err
		}
	}
	return r.each(ctx, workers, func(ctx context.Context, h *hostRun) error { return r.join(ctx, h, info) })
}

// joinData makes sure info holds a valid token (and, for control planes, a
// certificate key with the certificates uploaded under it): a fresh init
// printed both; later runs make a 1-hour token and upload the certificates
// again under a new key.
func (r *run) joinData(ctx context.Context, first *hostRun, info tokens.JoinInfo, controlPlanes bool) (tokens.JoinInfo, error) {
	if info.Token != "" && (!controlPlanes || info.CertificateKey != "") {
		return info, nil
	}
	t0 := time.Now()
	res, err := r.kubestrapJSONRaw(ctx, first, "token create", "token", "create", "--ttl", "1h",
		"--description", "kubestrap up: joins of "+r.cluster.name())
	if err != nil {
		return info, err
	}
	var fresh tokens.JoinInfo
	if err := res.decode(&fresh); err != nil {
		return info, err
	}
	if controlPlanes {
		if fresh.CertificateKey, err = r.uploadCerts(ctx, first); err != nil {
			return info, err
		}
	}
	r.step(first, "join token", true, "a 1-hour token for the hosts to join", time.Since(t0))
	return fresh, nil
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
	if _, err := h.m.Run(ctx, "kubestrap init phase upload-certs",
		kubestrapCmd("init", "phase", "upload-certs", "--config", path, "--upload-certs"), nil); err != nil {
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
	res, err := r.kubestrapJSONRaw(ctx, h, "join", args...)
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
	_, err := h.m.Run(ctx, "remove "+path, "rm -f "+shellQuote(path)+" "+shellQuote(path+".tmp"), nil)
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
	if _, err := first.m.Run(ctx, "wait for Ready nodes", script, nil); err != nil {
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
