package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/config"
)

func newConfigCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with kubestrap configuration files"}
	print := &cobra.Command{Use: "print", Short: "Print default configurations"}
	print.AddCommand(&cobra.Command{
		Use: "init-defaults", Short: "Print the default InitConfiguration and ClusterConfiguration", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c := &config.Init{}
			config.SetInitDefaults(c)
			b, err := config.MarshalInit(c)
			if err != nil {
				return err
			}
			_, err = out.Write(b)
			return err
		},
	}, &cobra.Command{
		Use: "join-defaults", Short: "Print the default JoinConfiguration", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
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
		},
	})
	validate := &cobra.Command{
		Use: "validate FILE", Short: "Check a config file and list every problem", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, err := config.ReadFile(args[0])
			if err != nil {
				return err
			}
			if docs.Join != nil {
				_, err = config.LoadJoin(args[0], nil)
			} else {
				_, err = config.LoadInit(args[0], nil)
			}
			if err == nil {
				cmd.Println(args[0] + ": valid")
			}
			return err
		},
	}
	cmd.AddCommand(print, validate)
	return cmd
}
