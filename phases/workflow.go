// Package phases runs kubestrap's operations as trees of named phases, in
// the manner of kubeadm's workflow: each phase can be run alone
// (`kubestrap init phase certs/apiserver`), skipped (--skip-phases), and
// reports one line with its duration; a failure names the phase to resume
// from. Each flow (init, join, reset) is a package of its own below this
// one, holding its phase list; Flow.BindToCommand makes its command.
package phases

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kubestrap/kubestrap/poll"
)

// Data is what phases share. Each operation defines a narrow interface
// (InitData, ...) and phases assert it, so no phase sees a god struct.
type Data any

// Phase is one named step, possibly with children.
type Phase struct {
	Name  string
	Short string
	// Phases are the children, run in order when Run is nil or when some
	// child is skipped.
	Phases []Phase
	// Run does the phase's work and returns the summary it prints. A phase
	// with children and its own Run does all the children's work at once
	// (in parallel, say) when none of them is skipped.
	// The context is cancelled on Ctrl-C; every wait inside must honour it.
	Run func(ctx context.Context, d Data) (string, error)
	// RunIf, when set, decides whether the phase applies at all.
	RunIf func(d Data) (bool, error)
}

// Runner runs a phase tree.
type Runner struct {
	// Command is the operation ("init", "join") used in resume hints.
	Command string
	Phases  []Phase
	Aliases Aliases
	Out     io.Writer
	Skip    []string
	Now     func() time.Time
}

// PhaseError is a failed phase with how to resume.
type PhaseError struct {
	Path    string
	Command string
	Err     error
}

func (e *PhaseError) Error() string {
	if errors.Is(e.Err, context.Canceled) {
		return fmt.Sprintf("phase %s interrupted\nto resume: kubestrap %s phase %s, then the phases after it "+
			"(or re-run `kubestrap %s`: finished phases are skipped or converge)", e.Path, e.Command, e.Path, e.Command)
	}
	return fmt.Sprintf("phase %s failed: %v\nto resume after fixing it: kubestrap %s phase %s, then the phases after it "+
		"(or re-run `kubestrap %s`: finished phases are skipped or converge)", e.Path, e.Err, e.Command, e.Path, e.Command)
}

func (e *PhaseError) Unwrap() error { return e.Err }

// Paths lists every phase path in the tree, e.g. "certs/apiserver".
func (r *Runner) Paths() []string {
	var out []string
	var walk func(prefix string, ps []Phase)
	walk = func(prefix string, ps []Phase) {
		for _, p := range ps {
			path := prefix + p.Name
			out = append(out, path)
			walk(path+"/", p.Phases)
		}
	}
	walk("", r.Phases)
	return out
}

// ValidateSkip rejects unknown --skip-phases names: a typo would otherwise
// silently skip nothing.
func (r *Runner) ValidateSkip() error {
	if bad := r.unalias(); len(bad) > 0 {
		return fmt.Errorf("unknown phase(s) in --skip-phases: %s; known phases: %s (and kubeadm's names: %s)",
			strings.Join(bad, ", "), strings.Join(r.Paths(), ", "), strings.Join(r.Aliases.Names(), ", "))
	}
	return nil
}

// Run runs the whole tree.
func (r *Runner) Run(ctx context.Context, d Data) error {
	if err := r.ValidateSkip(); err != nil {
		return err
	}
	start := r.now()
	if err := r.runList(ctx, "", r.Phases, d); err != nil {
		return err
	}
	fmt.Fprintf(r.Out, "[%s] done (%s)\n", r.Command, r.since(start))
	return nil
}

// RunPhase runs one phase (and its subtree) by path.
func (r *Runner) RunPhase(ctx context.Context, path string, d Data) error {
	p, ok := r.find(path)
	if !ok {
		targets, err := r.aliasTargets(path)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if err := r.RunPhase(ctx, t, d); err != nil {
				return err
			}
		}
		return nil
	}
	prefix := ""
	if i := strings.LastIndex(path, "/"); i >= 0 {
		prefix = path[:i+1]
	}
	return r.runOne(ctx, prefix, p, d)
}

func (r *Runner) find(path string) (Phase, bool) {
	list := r.Phases
	var cur Phase
	for _, part := range strings.Split(path, "/") {
		found := false
		for _, p := range list {
			if p.Name == part {
				cur, list, found = p, p.Phases, true
				break
			}
		}
		if !found {
			return Phase{}, false
		}
	}
	return cur, true
}

func (r *Runner) runList(ctx context.Context, prefix string, ps []Phase, d Data) error {
	for _, p := range ps {
		if err := r.runOne(ctx, prefix, p, d); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) runOne(ctx context.Context, prefix string, p Phase, d Data) error {
	path := prefix + p.Name
	if err := ctx.Err(); err != nil {
		return &PhaseError{Path: path, Command: r.Command, Err: err}
	}
	if r.skipped(path) {
		fmt.Fprintf(r.Out, "[%s] skipped\n", path)
		return nil
	}
	if p.RunIf != nil {
		ok, err := p.RunIf(d)
		if err != nil {
			return &PhaseError{Path: path, Command: r.Command, Err: err}
		}
		if !ok {
			return nil
		}
	}
	if p.Run != nil && (len(p.Phases) == 0 || !r.anySkippedBelow(path+"/")) {
		start := r.now()
		msg, err := p.Run(ctx, d)
		if err != nil {
			var pe *PhaseError
			if errors.As(err, &pe) {
				return err
			}
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
			return &PhaseError{Path: path, Command: r.Command, Err: err}
		}
		if msg != "" {
			fmt.Fprintf(r.Out, "[%s] %s (%s)\n", path, msg, r.since(start))
		}
		return nil
	}
	return r.runList(ctx, path+"/", p.Phases, d)
}

func (r *Runner) skipped(path string) bool {
	for _, s := range r.Skip {
		if s == path {
			return true
		}
	}
	return false
}

func (r *Runner) anySkippedBelow(prefix string) bool {
	for _, s := range r.Skip {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) since(t time.Time) string {
	return poll.FormatDuration(r.now().Sub(t))
}
