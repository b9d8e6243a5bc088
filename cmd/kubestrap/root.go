package main

import (
	"flag"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
)

func newRootCommand(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubestrap",
		Short: "Bootstrap Kubernetes clusters: init a control plane, join nodes",
		Long: "kubestrap bootstraps real upstream Kubernetes on CentOS 7, Debian and similar hosts:\n" +
			"`kubestrap init` on the first control-plane node, then `kubestrap join` on the others.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })
	// klog's -v and friends, as in kubeadm.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	root.PersistentFlags().AddGoFlag(fs.Lookup("v"))
	klog.SetOutput(errOut)
	klog.LogToStderr(false)

	root.AddCommand(
		newInitCommand(out),
		newPreflightCommand(out),
		newConfigCommand(out),
		newCertsCommand(out),
		newImagesCommand(out),
		newTokenCommand(out),
		newJoinCommand(out),
		newResetCommand(out),
		newEtcdCommand(out),
		newStatusCommand(out),
		newVersionCommand(out),
		newUpCommand(out),
		newDownCommand(out),
		newUpgradeCommand(out),
		newSecretsEncryptionCommand(out),
		newKubeconfigCommand(out),
	)
	return root
}
