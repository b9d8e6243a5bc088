package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/config"
)

func newConfigCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with kubestrap configuration files"}
	cmd.AddCommand(newConfigPrintCommand(out), newConfigValidateCommand())
	return cmd
}

// newConfigPrintCommand is config print, with init-defaults and join-defaults.
func newConfigPrintCommand(out io.Writer) *cobra.Command {
	print := &cobra.Command{Use: "print", Short: "Print default configurations"}
	print.AddCommand(&cobra.Command{
		Use: "init-defaults", Short: "Print the default InitConfiguration and ClusterConfiguration", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return printYAML(out, config.InitDefaultsYAML)
		},
	}, &cobra.Command{
		Use: "join-defaults", Short: "Print the default JoinConfiguration", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return printYAML(out, config.JoinDefaultsYAML)
		},
	})
	return print
}

// printYAML prints the config file marshal makes.
func printYAML(out io.Writer, marshal func() ([]byte, error)) error {
	b, err := marshal()
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

// newConfigValidateCommand is config validate.
func newConfigValidateCommand() *cobra.Command {
	var file string
	validate := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check a config file and list every problem (kubeadm's form; `validate FILE` works too)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigValidate(cmd, file, args)
		},
	}
	validate.Flags().StringVar(&file, "config", "", "the config file to check")
	return validate
}

// runConfigValidate loads the file as a join or an init configuration,
// whichever it holds, and warns of what kubestrap ignores in it.
func runConfigValidate(cmd *cobra.Command, file string, args []string) error {
	path, err := validatePath(file, args)
	if err != nil {
		return err
	}
	warnings, err := config.ValidateFile(path)
	warnConfig(cmd, warnings)
	if err == nil {
		cmd.Println(path + ": valid")
	}
	return err
}

// validatePath takes the file from --config (kubeadm's form) or the one
// argument; both, or neither, is a usage error.
func validatePath(flag string, args []string) (string, error) {
	switch {
	case flag != "" && len(args) == 1 && args[0] != flag:
		return "", usage(errors.New("config validate: give the file once, with --config FILE or as the argument"))
	case flag != "":
		return flag, nil
	case len(args) == 1:
		return args[0], nil
	}
	return "", usage(errors.New("config validate: which file? pass --config FILE"))
}

// warnConfig names, on stderr, what the config file set that kubestrap
// ignores (kubeadm's fields it lacks).
func warnConfig(cmd *cobra.Command, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: config: "+w)
	}
}
