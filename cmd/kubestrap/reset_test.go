package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// At a terminal, reset asks first; anything but y/yes stops it before the
// lock or any phase.
func TestResetAsksAtATerminal(t *testing.T) {
	saved := isTerminal
	defer func() { isTerminal = saved }()
	isTerminal = func(io.Reader) bool { return true }
	for _, answer := range []string{"n\n", "\n", "nope\n", ""} {
		cmd := newResetCommand(io.Discard)
		var out bytes.Buffer
		cmd.SetIn(strings.NewReader(answer))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(nil)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), "aborted") {
			t.Fatalf("answer %q: err = %v", answer, err)
		}
		if !strings.Contains(out.String(), "[y/N]") || strings.Contains(out.String(), "[remove-etcd-member]") {
			t.Errorf("answer %q: output:\n%s", answer, out.String())
		}
	}
	if !confirm(strings.NewReader("Yes\n"), io.Discard, "?") || confirm(strings.NewReader("no\n"), io.Discard, "?") {
		t.Error("confirm reads the answer wrong")
	}
}

// down resets every host: it asks at a terminal, and without one it needs
// --yes; a refusal dials no host.
func TestDownAsksOrNeedsYes(t *testing.T) {
	saved := isTerminal
	defer func() { isTerminal = saved }()
	file := t.TempDir() + "/cluster.yaml"
	for _, tc := range []struct {
		terminal bool
		in, want string
	}{
		{false, "", "pass --yes"},
		{true, "n\n", "down aborted"},
	} {
		isTerminal = func(io.Reader) bool { return tc.terminal }
		cmd := newDownCommand(io.Discard)
		cmd.SetIn(strings.NewReader(tc.in))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"-f", file})
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("terminal %v: err = %v, want %q", tc.terminal, err, tc.want)
		}
	}
}
