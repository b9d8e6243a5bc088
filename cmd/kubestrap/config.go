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
			return printInitDefaults(out)
		},
	}, &cobra.Command{
		Use: "join-defaults", Short: "Print the default JoinConfiguration", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return printJoinDefaults(out)
		},
	})
	return print
}

// printInitDefaults prints the default InitConfiguration and ClusterConfiguration.
func printInitDefaults(out io.Writer) error {
	c := &config.Init{}
	config.SetInitDefaults(c)
	b, err := config.MarshalInit(c)
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

// printJoinDefaults prints the default JoinConfiguration, with example
// discovery values to replace.
func printJoinDefaults(out io.Writer) error {
	c := &config.JoinConfiguration{Discovery: config.Discovery{BootstrapToken: &config.BootstrapTokenDiscovery{
		Token: "abcdef.0123456789abcdef", APIServerEndpoint: "192.168.56.10:6443",
		CACertHashes: []string{"sha256:<hash printed by kubestrap init>"}}}}
	config.SetJoinDefaults(c)
	b, err := config.MarshalJoin(c)
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
	docs, err := config.ReadFile(path)
	if err != nil {
		return err
	}
	var warnings []string
	if docs.Join != nil {
		var c *config.JoinConfiguration
		if c, err = config.LoadJoin(path, nil); err == nil {
			warnings = c.Warnings
		}
	} else {
		var c *config.Init
		if c, err = config.LoadInit(path, nil); err == nil {
			warnings = c.Warnings
		}
	}
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
