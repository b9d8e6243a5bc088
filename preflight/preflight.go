// Package preflight holds the checks kubestrap runs before it changes a
// node. Checks are small values with stable names (kubeadm's names where
// the check is the same, so existing --ignore-preflight-errors lists keep
// working); warnings and errors are kept apart; every host read goes
// through an injected node.Host so that tests run against fake roots.
package preflight

import (
	"fmt"
	"sort"
	"strings"
)

// Checker is one preflight check.
type Checker interface {
	// Name is stable: users type it in --ignore-preflight-errors.
	Name() string
	// Check returns what is worth a warning and what blocks the operation.
	Check() (warnings, errs []error)
}

// Status of one check's result.
type Status string

// Statuses.
const (
	OK      Status = "ok"
	Warning Status = "warning"
	Failed  Status = "error"
	Ignored Status = "ignored" // failed, but the user chose to ignore it
)

// Result is the outcome of one check; its JSON form is the stable
// `kubestrap preflight -o json` output.
type Result struct {
	Name     string   `json:"name"`
	Status   Status   `json:"status"`
	Errors   []string `json:"errors,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Info     string   `json:"info,omitempty"`
}

// Informer is implemented by checks that report a finding even when all is
// well (the detected cgroup driver, the chosen address).
type Informer interface {
	Info() string
}

// Error lists the checks that failed and were not ignored.
type Error struct {
	Failed []Result
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("preflight found problems:\n")
	for _, r := range e.Failed {
		for _, m := range r.Errors {
			fmt.Fprintf(&b, "  [ERROR %s] %s\n", r.Name, m)
		}
	}
	names := make([]string, len(e.Failed))
	for i, r := range e.Failed {
		names[i] = r.Name
	}
	fmt.Fprintf(&b, "fix them, or skip a check with --ignore-preflight-errors=%s (or all)", strings.Join(names, ","))
	return b.String()
}

// IgnoreSet is the parsed --ignore-preflight-errors value. Names match
// case-insensitively, as in kubeadm; "all" ignores every error.
type IgnoreSet map[string]bool

// NewIgnoreSet parses names, which may themselves be comma-separated.
func NewIgnoreSet(names ...string) IgnoreSet {
	s := IgnoreSet{}
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			if part = strings.TrimSpace(part); part != "" {
				s[strings.ToLower(part)] = true
			}
		}
	}
	return s
}

// Has reports whether a check's errors are ignored.
func (s IgnoreSet) Has(name string) bool { return s["all"] || s[strings.ToLower(name)] }

// Unknown returns ignore names that match no check: a typo there would
// otherwise silently ignore nothing.
func (s IgnoreSet) Unknown(checks []Checker) []string {
	known := map[string]bool{"all": true}
	for _, c := range checks {
		known[strings.ToLower(c.Name())] = true
	}
	var out []string
	for n := range s {
		if !known[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Run runs every check and applies the ignore set: this is the one place
// where --ignore-preflight-errors takes effect. It returns all results and
// an *Error when any check failed without being ignored.
func Run(checks []Checker, ignore IgnoreSet) ([]Result, error) {
	results := make([]Result, 0, len(checks))
	var failed []Result
	for _, c := range checks {
		warns, errs := c.Check()
		r := Result{Name: c.Name(), Status: OK, Warnings: messages(warns), Errors: messages(errs)}
		if in, ok := c.(Informer); ok {
			r.Info = in.Info()
		}
		switch {
		case len(errs) > 0 && ignore.Has(r.Name):
			r.Status = Ignored
		case len(errs) > 0:
			r.Status = Failed
			failed = append(failed, r)
		case len(warns) > 0:
			r.Status = Warning
		}
		results = append(results, r)
	}
	if len(failed) > 0 {
		return results, &Error{Failed: failed}
	}
	return results, nil
}

func messages(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
