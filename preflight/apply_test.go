package preflight

import (
	"errors"
	"io"
	"testing"
)

// A fix that fails after another changed the host: the change is still
// returned, so that -o json reports changed: true to Ansible.
func TestApplyFixesReturnsWhatChangedBeforeAFailure(t *testing.T) {
	ran := 0
	fixes := []Fix{
		{Name: "sysctl", Apply: func() error { ran++; return nil }},
		{Name: "containerd", Apply: func() error { ran++; return errors.New("restart failed") }},
		{Name: "swap", Apply: func() error { ran++; return nil }},
	}
	applied, err := ApplyFixes(io.Discard, fixes, false)
	if err == nil || len(applied) != 1 || applied[0].Name != "sysctl" || ran != 2 {
		t.Fatalf("applied %v, err %v, ran %d", applied, err, ran)
	}
}
