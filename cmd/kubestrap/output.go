package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// output is a command's -o/--output flag. Every command with an output
// format (but init, join and reset, whose -o the phase runner owns)
// registers, checks and prints through it, so JSON always goes through
// writeJSON and the envelope always finds the flag named "output".
type output struct {
	format   string
	accepted []string
}

// addOutput registers -o/--output on fs. accepted are the formats check
// lets through besides ""; with none, check lets everything through and
// anything but json prints text, as those commands always have: scripts
// may pass -o table to them.
func addOutput(fs *pflag.FlagSet, def, help string, accepted ...string) *output {
	o := &output{accepted: accepted}
	fs.StringVarP(&o.format, "output", "o", def, help)
	return o
}

// check fails with a usage error (exit 2) naming the accepted formats
// when -o is none of them. Commands call it where they always have, so a
// bad -o is reported after the same earlier errors as before.
func (o *output) check() error {
	if o.format == "" || len(o.accepted) == 0 || slices.Contains(o.accepted, o.format) {
		return nil
	}
	return usage(fmt.Errorf("unknown output %q: use %s", o.format, strings.Join(o.accepted, " or ")))
}

// isJSON says whether stdout is for one JSON object.
func (o *output) isJSON() bool { return o.format == "json" }

// print writes v to w as JSON under -o json, else runs text.
func (o *output) print(w io.Writer, v any, text func() error) error {
	if o.isJSON() {
		return writeJSON(w, v)
	}
	return text()
}

// printAfter prints v like print after a run that may have failed
// half-way: the report must reach the caller (Ansible, up) either way,
// and the run's error, being the cause, wins over a printing error.
func (o *output) printAfter(w io.Writer, v any, runErr error, text func() error) error {
	if err := o.print(w, v, text); runErr == nil {
		return err
	}
	return runErr
}

// progress is where a command's progress lines go: under -o json stdout
// holds only the JSON object, so they go to stderr.
func (o *output) progress(cmd *cobra.Command) io.Writer {
	if o.isJSON() {
		return cmd.ErrOrStderr()
	}
	return cmd.OutOrStdout()
}
