package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// The JSON contract (README, "JSON contract"): with -o json, every command
// prints exactly one JSON object on stdout, on every run, with "changed".
// Ansible roles and `kubestrap up` read it. Commands print what they know;
// the envelope, in one place, completes it: a list becomes an object, a
// missing "changed" is added, and a failure becomes {"changed", "error",
// "exitCode"}.

// Command annotations the envelope reads.
const (
	// annMutating marks a command that changes the host: "changed"
	// defaults to true for it, also when it fails half-way.
	annMutating = "kubestrap.io/mutating"
	// annItems names the field a command's JSON list is wrapped in.
	annItems = "kubestrap.io/json-items"
)

// mutatingCommands change the host or the cluster (each with its
// subcommands, e.g. `init phase certs`).
var mutatingCommands = []string{"init", "join", "reset", "up", "down", "token create", "token delete", "images load",
	"certs renew", "certs auto-renew enable", "certs auto-renew disable", "etcd snapshot save", "etcd snapshot restore",
	"etcd snapshot schedule"}

// itemFields name the object field of commands whose JSON is a list.
var itemFields = map[string]string{"token list": "tokens", "certs list": "certificates",
	"certs check-expiration": "certificates", "etcd snapshot list": "snapshots"}

// annotate marks the command tree for the envelope, in one place.
func annotate(c *cobra.Command) {
	path := strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
	for _, m := range mutatingCommands {
		if path == m || strings.HasPrefix(path, m+" ") {
			setAnnotation(c, annMutating, "true")
		}
	}
	if f, ok := itemFields[path]; ok {
		setAnnotation(c, annItems, f)
	}
	for _, sub := range c.Commands() {
		annotate(sub)
	}
}

func setAnnotation(c *cobra.Command, k, v string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[k] = v
}

// envelope buffers stdout once the command turns out to print JSON.
type envelope struct {
	w    io.Writer
	json bool
	buf  bytes.Buffer
}

func (e *envelope) Write(p []byte) (int, error) {
	if e.json {
		return e.buf.Write(p)
	}
	return e.w.Write(p)
}

// execute runs kubestrap with args; with -o json the output is completed
// to the contract before it reaches stdout.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := &envelope{w: stdout}
	root := newRootCommand(env, stderr)
	root.SetArgs(args)
	annotate(root)
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		if f := cmd.Flags().Lookup("output"); f != nil && f.Value.String() == "json" {
			env.json = true
		}
	}
	cmd, err := root.ExecuteContextC(ctx)
	if !env.json && !(err != nil && wantsJSON(args)) {
		return err
	}
	obj := completeJSON(env.buf.Bytes(), cmd.Annotations, err)
	if werr := writeJSON(stdout, obj); werr != nil && err == nil {
		return werr
	}
	return err
}

// wantsJSON spots -o json in args that failed to parse, before the
// command could say so itself.
func wantsJSON(args []string) bool {
	for i, a := range args {
		switch {
		case a == "-ojson", a == "--output=json", a == "-o=json":
			return true
		case (a == "-o" || a == "--output") && i+1 < len(args) && args[i+1] == "json":
			return true
		}
	}
	return false
}

// completeJSON turns what a command printed into the contract's object.
func completeJSON(raw []byte, ann map[string]string, err error) map[string]any {
	obj := map[string]any{}
	var v any
	if len(bytes.TrimSpace(raw)) > 0 {
		if jerr := json.Unmarshal(raw, &v); jerr != nil {
			v = map[string]any{"output": string(raw)}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		obj = x
	case nil:
	default:
		key := ann[annItems]
		if key == "" {
			key = "items"
		}
		obj[key] = x
	}
	if _, ok := obj["changed"]; !ok {
		// Invalid input and refused preflight checks stop a command before
		// it writes anything; any other failure may come half-way.
		code := exitCode(err)
		obj["changed"] = ann[annMutating] == "true" && code != exitInvalid && code != exitPreflight
	}
	if err != nil {
		if _, ok := obj["error"]; !ok {
			obj["error"] = err.Error()
		}
		obj["exitCode"] = exitCode(err)
	}
	return obj
}
