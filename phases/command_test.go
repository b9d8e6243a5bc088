package phases

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/node"
)

// testFlow is a flow named join (so kubeadm's join aliases apply) with a
// nested phase; ran records the phases run and the arguments seen.
type testFlow struct {
	ran      []string
	args     []string
	built    bool
	done     bool
	dryRunTo string
}

func (tf *testFlow) command(t *testing.T) (*cobra.Command, *bytes.Buffer) {
	t.Helper()
	LockPath = filepath.Join(t.TempDir(), "lock")
	t.Cleanup(func() { LockPath = node.LockPath })
	run := func(name string) func(context.Context, Data) (string, error) {
		return func(context.Context, Data) (string, error) { tf.ran = append(tf.ran, name); return "ok", nil }
	}
	f := &Flow{Command: "join", Args: cobra.MaximumNArgs(1), ArgsUse: "[API_ENDPOINT]", DryRunDir: true,
		Aliases: Aliases{Targets: map[string][]string{"control-plane-prepare/all": {"control-plane-prepare"}}},
		Phases: []Phase{{Name: "preflight", Run: run("preflight")},
			{Name: "control-plane-prepare", Phases: []Phase{{Name: "certs", Run: run("certs")}, {Name: "manifests", Run: run("manifests")}}}},
		Start: func(inv *Invocation) (*Session, error) {
			tf.args, tf.dryRunTo = inv.Args, ""
			return &Session{
				Data: func() (Data, error) { tf.built, tf.dryRunTo = true, inv.DryRunDir; return nil, nil },
				Done: func(Data) (bool, error) { return tf.done, nil }}, nil
		}}
	cmd := &cobra.Command{Use: "join", SilenceUsage: true, SilenceErrors: true}
	f.BindToCommand(cmd)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	return cmd, &out
}

func (tf *testFlow) exec(t *testing.T, args ...string) (string, error) {
	cmd, out := tf.command(t)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// A nested phase is a nested command, and the flow's argument comes after
// it (before, `join phase control-plane-prepare certs` took "certs" as the
// API endpoint).
func TestBindToCommandNestsPhasesAndPassesArguments(t *testing.T) {
	for _, args := range [][]string{
		{"phase", "control-plane-prepare", "certs", "10.0.0.1:6443"},
		{"phase", "control-plane-prepare/certs", "10.0.0.1:6443"},
	} {
		tf := &testFlow{}
		if _, err := tf.exec(t, args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if strings.Join(tf.ran, ",") != "certs" || len(tf.args) != 1 || tf.args[0] != "10.0.0.1:6443" {
			t.Errorf("%v: ran %v with args %v, want certs with the endpoint", args, tf.ran, tf.args)
		}
	}
}

// Bad input is refused as a usage error before the data is built (nothing
// is written): an unknown --skip-phases name, an unknown phase, a wrong -o.
func TestBindToCommandRefusesBadInputBeforeAnything(t *testing.T) {
	for _, args := range [][]string{
		{"--skip-phases", "nope"},
		{"phase", "nope"},
		{"-o", "yaml"},
		{"phase", "preflight", "a", "b"},
	} {
		tf := &testFlow{}
		_, err := tf.exec(t, args...)
		var ue *UsageError
		if !errors.As(err, &ue) && !strings.Contains(errString(err), "accepts at most") {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
		if tf.built || len(tf.ran) > 0 {
			t.Errorf("%v: built the data or ran %v", args, tf.ran)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// kubeadm's names are commands too and run kubestrap's phases; skipping by
// a kubeadm name skips its counterpart.
func TestBindToCommandAliases(t *testing.T) {
	tf := &testFlow{}
	cmd, _ := tf.command(t)
	c, _, err := cmd.Find([]string{"phase", "control-plane-prepare", "all"})
	if err != nil || c.Name() != "all" || !strings.Contains(c.Short, "kubeadm's name for control-plane-prepare") {
		t.Fatalf("phase control-plane-prepare all: %v %v", c, err)
	}
	if _, err := tf.exec(t, "--skip-phases", "control-plane-prepare/all"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(tf.ran, ",") != "preflight" {
		t.Errorf("ran %v, want only preflight", tf.ran)
	}
}

// The whole flow stops after Done says the node has it; a dry run never
// asks and writes into a directory it names; a second run waits for no
// lock held by the first.
func TestBindToCommandDoneDryRunAndLock(t *testing.T) {
	tf := &testFlow{done: true}
	if _, err := tf.exec(t); err != nil || len(tf.ran) > 0 {
		t.Errorf("done: ran %v, err %v", tf.ran, err)
	}
	out, err := tf.exec(t, "--dry-run")
	if err != nil || len(tf.ran) != 3 || tf.dryRunTo == "" || !strings.Contains(out, "dry-run output: "+tf.dryRunTo) {
		t.Errorf("dry run: ran %v, dir %q, err %v, out %s", tf.ran, tf.dryRunTo, err, out)
	}
	cmd, _ := tf.command(t)
	lock, err := node.AcquireLock(LockPath, "other")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	cmd.SetArgs(nil)
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "other") {
		t.Errorf("a held lock: err = %v, want one naming the holder", err)
	}
}
