// Package cleanup undoes what kubestrap set up on a host: its files, the
// kubelet's mounts, the pods in the container runtime, the pod network's
// links and the iptables chains of kube-proxy and flannel. Every side effect
// goes through a value the caller passes (a root, a Host), so tests run it
// against a fake root and fakes; nothing here holds package-level state.
// Each step records what it removed and what it left in a Report.
package cleanup

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Left is something a reset leaves on the host on purpose, or could not
// remove, with how to undo it by hand.
type Left struct {
	What        string `json:"what"`
	Why         string `json:"why"`
	HowToRevert string `json:"howToRevert"`
}

// Report collects what a reset removed and what it left. It is safe for
// concurrent use. In a dry run Removed lists what a real run would remove.
type Report struct {
	DryRun bool

	mu      sync.Mutex
	removed []string
	left    []Left
}

// Removed records that what was removed (or, in a dry run, would be).
func (r *Report) Removed(what ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = append(r.removed, what...)
}

// Leave records something left on the host.
func (r *Report) Leave(l Left) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.left = append(r.left, l)
}

// Changed reports whether the reset changed the host; a dry run never does.
func (r *Report) Changed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.DryRun && len(r.removed) > 0
}

// Snapshot is the report's stable JSON form (`kubestrap reset -o json`).
type Snapshot struct {
	Changed bool     `json:"changed"`
	Removed []string `json:"removed"`
	Left    []Left   `json:"left"`
	// DryRun is set only in a dry run, where Removed is what would go.
	DryRun bool `json:"dryRun,omitempty"`
}

// Snapshot returns a copy of the report; the lists are never nil, so the
// JSON always has arrays.
func (r *Report) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Snapshot{Changed: !r.DryRun && len(r.removed) > 0, Removed: append([]string{}, r.removed...),
		Left: append([]Left{}, r.left...), DryRun: r.DryRun}
}

// MarshalJSON implements json.Marshaler through Snapshot.
func (r *Report) MarshalJSON() ([]byte, error) { return json.Marshal(r.Snapshot()) }

// WriteText prints the report for people: what was removed, what was left
// and how to revert it, or that there was nothing to reset.
func (r *Report) WriteText(w io.Writer) {
	s := r.Snapshot()
	switch {
	case len(s.Removed) == 0 && s.DryRun:
		fmt.Fprintln(w, "[reset] dry-run: nothing to reset on this node")
	case len(s.Removed) == 0:
		fmt.Fprintln(w, "[reset] nothing to reset: no kubestrap cluster state on this node")
	case s.DryRun:
		fmt.Fprintf(w, "[reset] dry-run: would remove:\n  %s\n", strings.Join(s.Removed, "\n  "))
	default:
		fmt.Fprintf(w, "[reset] removed:\n  %s\n", strings.Join(s.Removed, "\n  "))
	}
	if len(s.Left) == 0 {
		return
	}
	fmt.Fprintln(w, "[reset] left on this node:")
	for _, l := range s.Left {
		fmt.Fprintf(w, "  %s: %s", l.What, l.Why)
		if l.HowToRevert != "" {
			fmt.Fprintf(w, "; to revert: %s", l.HowToRevert)
		}
		fmt.Fprintln(w)
	}
}
