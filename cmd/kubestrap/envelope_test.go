package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// oneObject asserts the JSON contract on a command's stdout: exactly one
// JSON object, with "changed".
func oneObject(t *testing.T, out string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", out)
	}
	if _, ok := obj["changed"].(bool); !ok {
		t.Fatalf("no boolean \"changed\": %s", out)
	}
	return obj
}

func TestJSONContractOnErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		changed bool
	}{
		{"unknown skip phase", []string{"init", "--skip-phases", "bogus", "-o", "json"}, exitInvalid, false},
		{"join with a bad skip phase", []string{"join", "10.0.0.1:6443", "--token", "abcdef.0123456789abcdef",
			"--discovery-token-unsafe-skip-ca-verification", "--skip-phases", "nope", "-o", "json"}, exitInvalid, false},
		{"a flag that does not parse", []string{"token", "list", "--bogus", "-o", "json"}, exitInvalid, false},
		{"up without a file", []string{"up", "-o", "json"}, exitInvalid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, code, tmp := run(t, tc.args...)
			obj := oneObject(t, out)
			if code != tc.code || obj["exitCode"] != float64(tc.code) || obj["changed"] != tc.changed {
				t.Errorf("exit %d, object %v; want exit %d, changed %v", code, obj, tc.code, tc.changed)
			}
			if msg, _ := obj["error"].(string); msg == "" {
				t.Errorf("no error message: %v", obj)
			}
			if e := entries(t, tmp); len(e) != 0 {
				t.Errorf("bad input wrote %v", e)
			}
		})
	}
}

func TestCompleteJSON(t *testing.T) {
	list := completeJSON([]byte(`[{"id":"abcdef"}]`), map[string]string{annItems: "tokens"}, nil)
	if list["changed"] != false || len(list["tokens"].([]any)) != 1 {
		t.Errorf("a list is wrapped under its field: %v", list)
	}
	if got := completeJSON([]byte(`{"changed":true,"x":1}`), nil, nil); got["changed"] != true || got["x"] != float64(1) {
		t.Errorf("a command's own changed is kept: %v", got)
	}
	failed := completeJSON(nil, map[string]string{annMutating: "true"}, errors.New("kubelet did not start"))
	if failed["changed"] != true || failed["exitCode"] != exitError {
		t.Errorf("a mutating command failing half-way may have changed things: %v", failed)
	}
	if got := completeJSON(nil, nil, nil); got["changed"] != false {
		t.Errorf("no output: %v", got)
	}
}

func TestEveryJSONCommandIsCovered(t *testing.T) {
	// A new -o json command must be classified: mutating (changed defaults
	// to true) or read-only; a typo in the tables would silently misreport.
	root := newRootCommand(nil, nil)
	annotate(root)
	known := map[string]bool{}
	for _, m := range mutatingCommands {
		known[m] = false
	}
	visit(root, func(path string, mutating bool) {
		if _, ok := known[path]; ok {
			known[path] = true
		}
	})
	for path, seen := range known {
		if !seen {
			t.Errorf("mutatingCommands names %q, which is no command", path)
		}
	}
	for path := range itemFields {
		found := false
		visit(root, func(p string, _ bool) { found = found || p == path })
		if !found {
			t.Errorf("itemFields names %q, which is no command", path)
		}
	}
}

func TestPreflightFixDryRunJSON(t *testing.T) {
	out, _, code, _ := run(t, append([]string{"preflight", "--fix", "--dry-run", "-o", "json"}, nodeFlags...)...)
	obj := oneObject(t, out)
	if obj["changed"] != false || obj["dryRun"] != true {
		t.Errorf("a dry run changes nothing: %v", obj)
	}
	if _, ok := obj["fixes"].([]any); !ok {
		t.Errorf("no fixes list (exit %d): %s", code, out)
	}
	if strings.Contains(out, "[fix]") {
		t.Errorf("fix lines leaked into stdout: %s", out)
	}
}

// visit calls fn with every command's path below the root.
func visit(c *cobra.Command, fn func(path string, mutating bool)) {
	path := strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
	fn(path, c.Annotations[annMutating] == "true")
	for _, sub := range c.Commands() {
		visit(sub, fn)
	}
}
