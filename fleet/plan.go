package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kubestrap/kubestrap/components/tokens"
)

// minTokenLife is the least a reused token must have left: the joins, one
// control plane at a time, can take that long.
const minTokenLife = 30 * time.Minute

// plan is who does what on an up.
type plan struct {
	// init runs init: the control plane with init's record; nil when the
	// cluster exists but that host is out of reach or lost its record.
	init *hostRun
	// members are the other reachable control planes of the cluster: they
	// stand in for init's host to make tokens and upload certificates.
	members []*hostRun
	// helpers are the healthy hosts, in order, that can make tokens: set
	// by initCluster.
	helpers []*hostRun
	// degraded are failures that did not stop up (the init host failed and
	// a member stood in); up returns them at the end.
	degraded []error
}

// plan picks the host that runs init. The init record says which host
// initialized the cluster, whatever the file's order; without one, a
// control plane with manifests and no join record (a cluster made before
// records, or an init interrupted before it) resumes; else the file's first
// control plane inits. While a host is out of reach, a new cluster is never
// started: that host may be the cluster's.
func (r *run) plan() (*plan, error) {
	p := &plan{}
	var first, bare *hostRun
	for _, h := range r.reachable() {
		if h.Role != RoleControlPlane {
			continue
		}
		switch {
		case h.initRecord && p.init == nil:
			p.init = h
		case h.joined && h.controlPlane:
			p.members = append(p.members, h)
		case h.controlPlane && bare == nil:
			bare = h
		}
		if first == nil {
			first = h
		}
	}
	down := r.unreachableErr()
	switch {
	case p.init != nil, len(p.members) > 0:
	case down != nil:
		return nil, fmt.Errorf("no reachable control plane is in the cluster, so up cannot tell whether the cluster exists: %w", down)
	case bare != nil:
		p.init = bare
	default:
		p.init = first
	}
	return p, nil
}

// initCluster runs init on the plan's init host (on an initialized one a
// no-op that returns the join information). When that host fails but the
// cluster exists, the members stand in and the failure is reported at the
// end.
func (r *run) initCluster(ctx context.Context, p *plan) (tokens.JoinInfo, error) {
	var info tokens.JoinInfo
	if p.init == nil {
		p.helpers = p.members
		return info, nil
	}
	err := r.each(ctx, []*hostRun{p.init}, func(ctx context.Context, h *hostRun) error {
		var err error
		info, err = r.init(ctx, h)
		return err
	})
	switch {
	case err == nil:
		p.helpers = append([]*hostRun{p.init}, p.members...)
		return info, nil
	case p.init.initRecord && len(p.members) > 0 && ctx.Err() == nil:
		p.helpers, p.degraded = p.members, append(p.degraded, err)
		return tokens.JoinInfo{}, nil
	}
	return info, err
}

// init runs `kubestrap init` on the first control plane with the file's
// configuration; on an initialized node it is a no-op that returns the join
// information (with init's token while it is valid).
func (r *run) init(ctx context.Context, h *hostRun) (info tokens.JoinInfo, err error) {
	err = timedStep(ctx, h, "init", func(ctx context.Context) error {
		cfg, err := initConfig(r.cluster, h)
		if err != nil {
			return err
		}
		if _, err := r.putFile(ctx, h, upDir+"/init.yaml", cfg, "0600"); err != nil {
			return err
		}
		t0 := time.Now()
		res, err := r.kubestrapJSONRaw(ctx, h, "init", "init", "--config", upDir+"/init.yaml")
		if err != nil {
			return err
		}
		if err := res.decode(&info); err != nil {
			return err
		}
		detail := "already initialized"
		if res.Changed {
			detail = "initialized; API server " + info.Endpoint
		}
		r.step(h, "init", res.Changed, detail, time.Since(t0))
		h.joined, h.controlPlane = true, true
		return nil
	})
	return info, err
}

// joinAll joins the control planes one at a time (etcd adds one learner at
// a time), then the workers at once.
func (r *run) joinAll(ctx context.Context, p *plan, info tokens.JoinInfo) error {
	var cps, workers []*hostRun
	for _, h := range r.reachable() {
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
	info, err := r.joinDataFromAny(ctx, p, info, len(cps) > 0)
	if err != nil {
		return err
	}
	for i := range cps {
		if err := r.each(ctx, cps[i:i+1], func(ctx context.Context, h *hostRun) error { return r.join(ctx, h, info) }); err != nil {
			return err
		}
	}
	return r.each(ctx, workers, func(ctx context.Context, h *hostRun) error { return r.join(ctx, h, info) })
}

// joinDataFromAny asks the helpers in turn for the join data: any healthy
// control plane of the cluster can make a token and upload certificates.
// The one that answered leads the rest of the run (wait, kubeconfig).
func (r *run) joinDataFromAny(ctx context.Context, p *plan, info tokens.JoinInfo, controlPlanes bool) (tokens.JoinInfo, error) {
	var errs []error
	for i, h := range p.helpers {
		var fresh tokens.JoinInfo
		err := r.each(ctx, []*hostRun{h}, func(ctx context.Context, h *hostRun) error {
			var err error
			fresh, err = r.joinData(ctx, h, info, controlPlanes)
			return err
		})
		if err == nil {
			p.helpers = p.helpers[i:]
			p.degraded = append(p.degraded, errs...)
			return fresh, nil
		}
		if errs = append(errs, err); ctx.Err() != nil {
			break
		}
		info = tokens.JoinInfo{} // init's token may be what failed
	}
	return info, errors.Join(errs...)
}

// joinData makes sure info holds a token with at least minTokenLife left
// (and, for control planes, a certificate key with the certificates
// uploaded under it): a fresh init printed both; later runs make a 1-hour
// token and upload the certificates again under a new key.
func (r *run) joinData(ctx context.Context, h *hostRun, info tokens.JoinInfo, controlPlanes bool) (tokens.JoinInfo, error) {
	if info.Token != "" && (!controlPlanes || info.CertificateKey != "") {
		left, err := r.tokenLeft(ctx, h, info)
		if err != nil {
			return info, err
		}
		if left >= minTokenLife {
			return info, nil
		}
	}
	t0 := time.Now()
	var fresh tokens.JoinInfo
	err := timedStep(ctx, h, "join token", func(ctx context.Context) error {
		res, err := r.kubestrapJSONRaw(ctx, h, "token create", "token", "create", "--ttl", "1h",
			"--description", "kubestrap up: joins of "+r.cluster.name())
		if err != nil {
			return err
		}
		return res.decode(&fresh)
	})
	if err != nil {
		return info, err
	}
	if controlPlanes {
		if fresh.CertificateKey, err = r.uploadCerts(ctx, h); err != nil {
			return info, err
		}
	}
	r.step(h, "join token", true, "a 1-hour token for the hosts to join", time.Since(t0))
	return fresh, nil
}

// never is what tokenLeft says of a token that does not expire.
const never = time.Duration(1<<63 - 1)

// tokenLeft is how long a token has left: from its expiry when the
// command that printed it said it, else from `kubestrap token list` (a
// re-run of init prints init's token without it). A token the list does
// not have is expired.
func (r *run) tokenLeft(ctx context.Context, h *hostRun, info tokens.JoinInfo) (time.Duration, error) {
	exp := info.TokenExpires
	if exp == "" {
		var err error
		if exp, err = r.tokenExpiry(ctx, h, info.Token); err != nil {
			return 0, err
		}
	}
	switch exp {
	case "":
		return never, nil
	case "expired":
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339, exp)
	if err != nil {
		return 0, nil // unreadable: make a token rather than trust it
	}
	return time.Until(t), nil
}

// tokenExpiry is a token's expiry as `token list -o json` prints it ("":
// never), or "expired" when the list does not have it.
func (r *run) tokenExpiry(ctx context.Context, h *hostRun, token string) (string, error) {
	id, _, _ := strings.Cut(token, ".")
	// {"changed": false, "tokens": [{"id", "expires", ...}]}, as every
	// read-only command's -o json.
	var list struct {
		Tokens []struct {
			ID      string `json:"id"`
			Expires string `json:"expires"`
		} `json:"tokens"`
	}
	err := timedStep(ctx, h, "join token", func(ctx context.Context) error {
		out, err := h.m.Run(ctx, "kubestrap token list", kubestrapCmd("token", "list"), nil)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, &list); err != nil {
			return fmt.Errorf("kubestrap token list: not the JSON object it promises (%v): %.200q", err, out)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	for _, t := range list.Tokens {
		if t.ID == id {
			return t.Expires, nil
		}
	}
	return "expired", nil
}
