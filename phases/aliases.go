package phases

import (
	"fmt"
	"sort"
	"strings"
)

// Aliases are another tool's phase names for a flow's phases (kubeadm's,
// so that a playbook written for kubeadm, `kubeadm init phase addon
// coredns` or `--skip-phases addon/kube-proxy`, works unchanged). Each
// flow keeps its own table.
type Aliases struct {
	// Targets maps a name to the phases that do its work; an empty list is
	// a phase whose work is done elsewhere or not at all: skipping it skips
	// nothing, running it alone says where the work is.
	Targets map[string][]string
	// NoCounterpart says, for each empty Targets entry, where its work is.
	NoCounterpart map[string]string
}

// Names lists the aliases sorted, for help and errors.
func (a Aliases) Names() []string {
	var out []string
	for k := range a.Targets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Check returns what is wrong with the table against the phase tree: an
// alias that shadows a phase, points at no phase, or has neither targets
// nor a word on where its work is. Each flow's tests call it.
func (a Aliases) Check(tree []Phase) []error {
	known := map[string]bool{}
	for _, p := range (&Runner{Phases: tree}).Paths() {
		known[p] = true
	}
	var errs []error
	for _, name := range a.Names() {
		targets := a.Targets[name]
		if known[name] {
			errs = append(errs, fmt.Errorf("alias %s shadows a phase of that name", name))
		}
		for _, t := range targets {
			if !known[t] {
				errs = append(errs, fmt.Errorf("alias %s points at %s, which is not a phase", name, t))
			}
		}
		if len(targets) == 0 && a.NoCounterpart[name] == "" {
			errs = append(errs, fmt.Errorf("alias %s has no counterpart and no word on where its work is", name))
		}
	}
	return errs
}

// resolve maps an alias to the flow's phases; a phase's own name is
// itself. ok is false for a name neither has.
func (r *Runner) resolve(name string, known map[string]bool) ([]string, bool) {
	if known[name] {
		return []string{name}, true
	}
	targets, ok := r.Aliases.Targets[name]
	return targets, ok
}

// unalias replaces aliases in r.Skip by the flow's names, and reports the
// names neither has.
func (r *Runner) unalias() []string {
	known := map[string]bool{}
	for _, p := range r.Paths() {
		known[p] = true
	}
	var skip, bad []string
	for _, s := range r.Skip {
		targets, ok := r.resolve(s, known)
		if !ok {
			bad = append(bad, s)
		}
		skip = append(skip, targets...)
	}
	r.Skip = skip
	return bad
}

// aliasTargets is what `phase NAME` runs for an alias, or an error saying
// where that work is.
func (r *Runner) aliasTargets(name string) ([]string, error) {
	targets, ok := r.Aliases.Targets[name]
	if !ok {
		return nil, fmt.Errorf("unknown phase %q; known phases: %s (and kubeadm's names: %s)", name,
			strings.Join(r.Paths(), ", "), strings.Join(r.Aliases.Names(), ", "))
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("kubeadm's phase %s has no kubestrap counterpart: %s", name, r.Aliases.NoCounterpart[name])
	}
	return targets, nil
}
