package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/components/tokens"
	"github.com/kubestrap/kubestrap/encryption"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/status"
)

func newSecretsEncryptionCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets-encryption", Short: "Secrets encrypted at rest: this control plane's keys and the Secrets in etcd"}
	cmd.AddCommand(newSecretsEncryptionStatusCommand(out), newSecretsEncryptionReencryptCommand(out))
	return cmd
}

func newSecretsEncryptionStatusCommand(out io.Writer) *cobra.Command {
	var o *output
	cmd := &cobra.Command{Use: "status", Short: "List the keys and count the Secrets in etcd by the key that encrypted them",
		Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			r, err := status.SecretsEncryption(ctx, "/")
			if err != nil {
				return err
			}
			return o.print(out, r, func() error { return r.WriteText(out) })
		}}
	o = addOutput(cmd.Flags(), "", "output format: table or json", "table", "json")
	return cmd
}

func newSecretsEncryptionReencryptCommand(out io.Writer) *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{Use: "reencrypt", Short: "Rewrite every Secret so that etcd stores it under the encrypting key",
		Long: "reencrypt rewrites every Secret through the API server, unchanged, so that each is stored again under the\n" +
			"key that encrypts new writes: Secrets written before encryption was on, or under an older key. Run it\n" +
			"on a control plane once every API server has that key.",
		Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := tokens.AdminClient(kubeconfig)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Minute)
			defer cancel()
			n, err := encryption.Reencrypt(ctx, c, cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("%w (rewrote %d; run it again: rewriting twice is harmless)", err, n)
			}
			_, err = fmt.Fprintf(out, "%d Secrets rewritten\n", n)
			return err
		}}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", layout.AdminConfPath, "the admin kubeconfig")
	return cmd
}
