// The layering of kubestrap's packages, kept by a test (in the spirit of
// k0s's depguard rules): an import goes down the layers or stays within
// one, never up; the flows do not import each other; test fakes are for
// tests only. A new package must be given a layer here.
package kubestrap_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kubestrap/kubestrap"

// layers, top to bottom (../shared/ARCHITECTURE.md).
var layers = [][]string{
	{"cmd/kubestrap"},
	{"phases/initflow", "phases/joinflow", "phases/resetflow", "phases/upgradeflow", "fleet", "status"},
	{"phases"},
	{"components/addons", "components/apply", "components/controlplane", "components/images", "components/kubelet",
		"components/tokens", "staticpods", "renew", "join", "snapshot"},
	{"etcd", "certs", "preflight", "cleanup", "encryption", "audit"},
	{"node", "config", "systemd"},
	{"layout", "poll", "parallel", "golden"},
}

// flows may not import one another.
var flows = []string{"phases/initflow", "phases/joinflow", "phases/resetflow", "phases/upgradeflow"}

// fakes are imported by tests only.
var fakes = []string{"cleanup/cleanuptest", "etcd/etcdtest", "systemd/systemdtest", "node/nodetest",
	"phases/phasestest"}

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func layerOf() map[string]int {
	m := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			m[module+"/"+p] = i
		}
	}
	return m
}

// violations lists what breaks the rules among pkgs.
func violations(pkgs []pkg) []string {
	layer := layerOf()
	isFake := map[string]bool{}
	for _, f := range fakes {
		isFake[module+"/"+f] = true
	}
	isFlow := map[string]bool{}
	for _, f := range flows {
		isFlow[module+"/"+f] = true
	}
	var bad []string
	for _, p := range pkgs {
		own, known := layer[p.ImportPath]
		if !known && !isFake[p.ImportPath] && p.ImportPath != module {
			bad = append(bad, p.ImportPath+" has no layer: add it to layers in layers_test.go")
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			switch l, ok := layer[imp]; {
			case isFake[imp] && !isFake[p.ImportPath]:
				bad = append(bad, fmt.Sprintf("%s imports the test fake %s", p.ImportPath, imp))
			case isFlow[p.ImportPath] && isFlow[imp]:
				bad = append(bad, fmt.Sprintf("flow %s imports flow %s", p.ImportPath, imp))
			case ok && known && l < own:
				bad = append(bad, fmt.Sprintf("%s (layer %d) imports %s of layer %d above it", p.ImportPath, own, imp, l))
			}
		}
	}
	return bad
}

func TestImportsGoDownTheLayers(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// The rules catch what they are for.
func TestLayerRulesCatchViolations(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	pkgs := []pkg{
		{ImportPath: m("layout"), Imports: []string{m("config")}},
		{ImportPath: m("phases/initflow"), Imports: []string{m("phases/joinflow")}},
		{ImportPath: m("certs"), Imports: []string{m("node/nodetest")}},
		{ImportPath: m("newthing")},
		{ImportPath: m("config"), Imports: []string{m("layout"), "fmt"}},
	}
	got := violations(pkgs)
	if len(got) != 4 {
		t.Fatalf("want 4 violations, got %d: %q", len(got), got)
	}
}
