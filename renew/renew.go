package renew

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/staticpods"
)

// Actions of a Cert in the report.
const (
	Renewed    = "renewed"
	WouldRenew = "would-renew"
	Skipped    = "skipped"
	Failed     = "failed"
)

// Options are the inputs of one renewal.
type Options struct {
	// CertDir holds the PKI; KubeDir the kubeconfigs and manifests/.
	CertDir, KubeDir string
	// Validity is the new certificates' lifetime.
	Validity time.Duration
	// Within, when positive, renews only certificates that expire within it.
	Within time.Duration
	DryRun bool
	Out    io.Writer
	Now    func() time.Time
	// Wait blocks until each restarted component runs a container started
	// at or after since and is healthy; HealthWait is the node's.
	Wait func(ctx context.Context, components []string, since time.Time) error
	// NoRestart leaves the static pods alone: the caller restarts them
	// (an upgrade, which replaces every manifest right after).
	NoRestart bool
}

// Report is what a renewal did; its JSON form is `certs renew -o json`'s
// stable output.
type Report struct {
	// Changed is true when a certificate was renewed (never in a dry run).
	Changed      bool   `json:"changed"`
	DryRun       bool   `json:"dryRun,omitempty"`
	Validity     string `json:"validity"`
	Certificates []Cert `json:"certificates"`
	// Restarted are the static pods restarted (or, in a dry run, that
	// would be).
	Restarted []string `json:"restarted"`
}

// Cert is one certificate of the report.
type Cert struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Action string `json:"action"`
	// Reason says why a certificate was skipped or failed.
	Reason      string    `json:"reason,omitempty"`
	OldNotAfter time.Time `json:"oldNotAfter,omitzero"`
	NotAfter    time.Time `json:"notAfter,omitzero"`
}

// Run renews targets on this node, then restarts the static pods that use
// the renewed certificates and waits for them. A certificate that fails
// does not stop the others; the error joins every failure. The report
// describes what happened also when an error is returned.
func Run(ctx context.Context, targets []Target, o Options) (*Report, error) {
	rep := &Report{DryRun: o.DryRun, Validity: certs.ShortDuration(o.Validity), Restarted: []string{}}
	if err := CheckControlPlane(o.CertDir, o.KubeDir); err != nil {
		return rep, err
	}
	start := o.Now()
	pki := &certs.PKI{Dir: o.CertDir, Validity: o.Validity, Now: o.Now}
	var errs []error
	var restart []string
	for _, t := range targets {
		c, err := renewOne(pki, t, o)
		rep.Certificates = append(rep.Certificates, c)
		rep.Changed = rep.Changed || c.Action == Renewed
		o.printCert(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name, err))
			continue
		}
		if c.Action == Renewed || c.Action == WouldRenew {
			restart = append(restart, t.Restart...)
		}
	}
	restarted, err := o.restart(ctx, ordered(restart))
	rep.Restarted = restarted
	if err != nil {
		errs = append(errs, err)
	}
	o.printSummary(rep, start)
	return rep, errors.Join(errs...)
}

// renewOne renews one target, or says why not.
func renewOne(pki *certs.PKI, t Target, o Options) (Cert, error) {
	path := t.Path(o.CertDir, o.KubeDir)
	c := Cert{Name: t.Name, File: path}
	old, err := read(t, path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Action, c.Reason = Skipped, "not on this node"
		return c, nil
	case err != nil:
		c.Action, c.Reason = Failed, err.Error()
		return c, err
	}
	c.OldNotAfter = old.NotAfter.UTC()
	if left := old.NotAfter.Sub(o.Now()); o.Within > 0 && left > o.Within {
		c.Action, c.Reason = Skipped, fmt.Sprintf("expires in %s, not within %s", certs.HumanDuration(left), certs.ShortDuration(o.Within))
		return c, nil
	}
	if o.DryRun {
		c.Action = WouldRenew
		return c, nil
	}
	var renewed *x509.Certificate
	if t.Kubeconfig {
		_, renewed, err = pki.RenewKubeconfig(path, t.CABase)
	} else {
		_, renewed, err = pki.RenewCert(t.Base, t.CABase)
	}
	if err != nil {
		c.Action, c.Reason = Failed, err.Error()
		return c, err
	}
	c.Action, c.NotAfter = Renewed, renewed.NotAfter.UTC()
	return c, nil
}

func read(t Target, path string) (*x509.Certificate, error) {
	if t.Kubeconfig {
		return certs.ReadKubeconfigCert(path)
	}
	return certs.ReadCertFile(path)
}

// ordered dedupes components into start order (etcd first, as init
// starts them).
func ordered(components []string) []string {
	out := []string{}
	for _, c := range staticpods.Components() {
		if slices.Contains(components, c) {
			out = append(out, c)
		}
	}
	return out
}

// restart marks the manifests of components so that the kubelet recreates
// their pods, waits for them, and returns those it restarted (in a dry
// run, all). A component without a manifest on this node is left out:
// nothing runs it here.
func (o Options) restart(ctx context.Context, components []string) ([]string, error) {
	if o.NoRestart {
		return []string{}, nil
	}
	if len(components) == 0 || o.DryRun {
		return components, nil
	}
	dir := filepath.Join(o.KubeDir, layout.ManifestsSubdir)
	since := o.Now()
	marked := []string{}
	for _, c := range components {
		err := staticpods.MarkRestart(dir, c, since)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(o.Out, "[renew] %s: no manifest in %s, nothing to restart\n", c, dir)
		case err != nil:
			return marked, fmt.Errorf("restart %s: %w", c, err)
		default:
			marked = append(marked, c)
		}
	}
	if len(marked) == 0 {
		return marked, nil
	}
	fmt.Fprintf(o.Out, "[renew] restarting %s through the kubelet (%s=%s)\n", strings.Join(marked, ", "),
		staticpods.AnnotationRestartedAt, since.UTC().Format(time.RFC3339))
	if err := o.Wait(ctx, marked, since); err != nil {
		return marked, fmt.Errorf("the renewed certificates are written, but the restarted control plane is not healthy: %w", err)
	}
	return marked, nil
}

func (o Options) printCert(c Cert) {
	switch c.Action {
	case Renewed:
		fmt.Fprintf(o.Out, "[renew] %s: renewed, expires %s (was %s)\n", c.Name, stamp(c.NotAfter), stamp(c.OldNotAfter))
	case WouldRenew:
		fmt.Fprintf(o.Out, "[renew] %s: would renew (expires %s)\n", c.Name, stamp(c.OldNotAfter))
	default:
		fmt.Fprintf(o.Out, "[renew] %s: %s: %s\n", c.Name, c.Action, c.Reason)
	}
}

func (o Options) printSummary(rep *Report, start time.Time) {
	counts := map[string]int{}
	for _, c := range rep.Certificates {
		counts[c.Action]++
	}
	restarted := "nothing restarted"
	if len(rep.Restarted) > 0 {
		restarted = "restarted " + strings.Join(rep.Restarted, ", ")
	}
	if o.DryRun {
		fmt.Fprintf(o.Out, "[renew] dry-run: would renew %d, skip %d; would restart %s\n", counts[WouldRenew],
			counts[Skipped], listOr(rep.Restarted, "nothing"))
		return
	}
	fmt.Fprintf(o.Out, "[renew] done: %d renewed, %d skipped, %d failed; %s (%s)\n", counts[Renewed], counts[Skipped],
		counts[Failed], restarted, o.Now().Sub(start).Round(10*time.Millisecond))
}

func listOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ", ")
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }
