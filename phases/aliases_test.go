package phases

import (
	"context"
	"strings"
	"testing"
)

var testAliases = Aliases{
	Targets:       map[string][]string{"cleanup-node": {"stop-kubelet", "remove-files"}, "preflight": nil, "all/certs": {"certs"}},
	NoCounterpart: map[string]string{"preflight": "its work is done in remove-files"},
}

func leafRecorder(ran *[]string) func(name string) Phase {
	return func(name string) Phase {
		return Phase{Name: name, Run: func(context.Context, Data) (string, error) { *ran = append(*ran, name); return "", nil }}
	}
}

// An alias runs its targets; one without says where its work is.
func TestRunPhaseRunsWhatAnAliasMeans(t *testing.T) {
	var ran []string
	leaf := leafRecorder(&ran)
	var out strings.Builder
	r := &Runner{Command: "reset", Out: &out, Aliases: testAliases,
		Phases: []Phase{leaf("stop-kubelet"), leaf("remove-files"), leaf("delete-node")}}
	if err := r.RunPhase(context.Background(), "cleanup-node", nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ","); got != "stop-kubelet,remove-files" {
		t.Errorf("cleanup-node ran %s", got)
	}
	err := r.RunPhase(context.Background(), "preflight", nil)
	if err == nil || !strings.Contains(err.Error(), "no kubestrap counterpart: its work is done in remove-files") {
		t.Errorf("an alias without targets: %v", err)
	}
}

// --skip-phases takes aliases; an alias without targets skips nothing; a
// name neither has is an error listing both.
func TestSkipPhasesTakesAliases(t *testing.T) {
	var ran []string
	leaf := leafRecorder(&ran)
	tree := []Phase{leaf("certs"), leaf("stop-kubelet"), leaf("remove-files")}
	r := &Runner{Phases: tree, Aliases: testAliases, Skip: []string{"all/certs", "preflight", "remove-files"}}
	if err := r.ValidateSkip(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Skip, ","); got != "certs,remove-files" {
		t.Errorf("skip resolved to %s", got)
	}
	r = &Runner{Phases: tree, Aliases: testAliases, Skip: []string{"addon/dns"}}
	err := r.ValidateSkip()
	if err == nil || !strings.Contains(err.Error(), "addon/dns") || !strings.Contains(err.Error(), "kubeadm's names: all/certs,") {
		t.Errorf("a name neither has: %v", err)
	}
}

// Check finds every kind of broken table.
func TestAliasesCheck(t *testing.T) {
	tree := []Phase{{Name: "certs"}}
	bad := Aliases{Targets: map[string][]string{"certs": {"certs"}, "x": {"nope"}, "y": nil}}
	if errs := bad.Check(tree); len(errs) != 3 {
		t.Errorf("want 3 problems, got %v", errs)
	}
}
