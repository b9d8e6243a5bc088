package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/phases"
)

// addPhaseAliases gives `<command> phase` kubeadm's phase names as
// commands too (`init phase addon coredns`, `join phase etcd-join`), marked
// as kubeadm's in their help. run runs a phase path; args is what each
// leaf accepts (join phases take the API endpoint).
func addPhaseAliases(phaseCmd *cobra.Command, command string, args cobra.PositionalArgs,
	run func(cmd *cobra.Command, args []string, path string) error) {
	aliases := phases.Aliases(command)
	for _, name := range phases.AliasNames(command) {
		parent := phaseCmd
		parts := strings.Split(name, "/")
		for i, part := range parts {
			path := strings.Join(parts[:i+1], "/")
			child := findChild(parent, part)
			if child == nil {
				child = &cobra.Command{Use: part, Args: args,
					RunE: func(cmd *cobra.Command, a []string) error { return run(cmd, a, path) }}
				if targets, ok := aliases[path]; ok {
					child.Short = "kubeadm's name for " + describe(targets)
				}
				parent.AddCommand(child)
			}
			parent = child
		}
	}
}

func findChild(parent *cobra.Command, name string) *cobra.Command {
	for _, c := range parent.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

func describe(targets []string) string {
	if len(targets) == 0 {
		return "a phase kubestrap has no counterpart of (running it says where its work is)"
	}
	return strings.Join(targets, ", ")
}
