package phases

import (
	"context"
	"strings"
	"testing"
)

// Every kubeadm name points at phases that exist: renaming a kubestrap
// phase without its alias fails here.
func TestKubeadmAliasesPointAtRealPhases(t *testing.T) {
	for command, tree := range map[string][]Phase{"init": InitPhases(), "join": JoinPhases(), "reset": ResetPhases()} {
		r := &Runner{Command: command, Phases: tree}
		known := map[string]bool{}
		for _, p := range r.Paths() {
			known[p] = true
		}
		for name, targets := range Aliases(command) {
			if known[name] {
				t.Errorf("%s: alias %s shadows a kubestrap phase of that name", command, name)
			}
			for _, target := range targets {
				if !known[target] {
					t.Errorf("%s: kubeadm's %s points at %s, which is not a phase", command, name, target)
				}
			}
			if len(targets) == 0 && noCounterpart[command+"/"+name] == "" {
				t.Errorf("%s: %s has no counterpart and no word on where its work is", command, name)
			}
		}
	}
}

func TestSkipPhasesTakesKubeadmNames(t *testing.T) {
	r := &Runner{Command: "init", Phases: InitPhases(), Skip: []string{"addon/kube-proxy", "certs", "upload-config/kubelet"}}
	if err := r.ValidateSkip(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Skip, ","); got != "addons/kube-proxy,certs,upload-config" {
		t.Errorf("skip resolved to %s", got)
	}
	r = &Runner{Command: "join", Phases: JoinPhases(), Skip: []string{"check-etcd"}}
	if err := r.ValidateSkip(); err != nil || len(r.Skip) != 0 {
		t.Errorf("kubeadm's check-etcd skips nothing here: %v %v", r.Skip, err)
	}
	r = &Runner{Command: "init", Phases: InitPhases(), Skip: []string{"addon/dns"}}
	err := r.ValidateSkip()
	if err == nil || !strings.Contains(err.Error(), "addon/dns") || !strings.Contains(err.Error(), "kubeadm's names: addon,") {
		t.Errorf("a name neither tool has: %v", err)
	}
}

func TestRunPhaseRunsWhatAKubeadmNameMeans(t *testing.T) {
	var ran []string
	leaf := func(name string) Phase {
		return Phase{Name: name, Run: func(context.Context, Data) (string, error) { ran = append(ran, name); return "", nil }}
	}
	var out strings.Builder
	r := &Runner{Command: "reset", Out: &out, Phases: []Phase{leaf("stop-kubelet"), leaf("timers"), leaf("remove-pods"),
		leaf("unmount"), leaf("remove-files"), leaf("network"), leaf("preflight-fixes"), leaf("delete-node")}}
	if err := r.RunPhase(context.Background(), "cleanup-node", nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ","); got != "stop-kubelet,timers,remove-pods,unmount,remove-files,network,preflight-fixes" {
		t.Errorf("cleanup-node ran %s", got)
	}
	err := r.RunPhase(context.Background(), "preflight", nil)
	if err == nil || !strings.Contains(err.Error(), "no kubestrap counterpart") {
		t.Errorf("kubeadm's reset preflight: %v", err)
	}
}
