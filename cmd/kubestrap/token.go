package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/tokens"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
)

func newTokenCommand(out io.Writer) *cobra.Command {
	var kubeconfig string
	cmd := &cobra.Command{Use: "token", Short: "Manage bootstrap tokens (on a control-plane node)"}
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", layout.AdminConfPath,
		"the admin kubeconfig")
	cmd.AddCommand(&cobra.Command{Use: "generate", Short: "Print a new random bootstrap token (creates nothing)",
		Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error {
			t, err := bootstraputil.GenerateBootstrapToken()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(out, t)
			return err
		}},
		newTokenCreateCommand(out, &kubeconfig), newTokenListCommand(out, &kubeconfig), newTokenDeleteCommand(out, &kubeconfig))
	return cmd
}

// tokenCreateFlags are token create's flags.
type tokenCreateFlags struct {
	ttl            time.Duration
	description    string
	output         *output
	printJoin      bool
	certificateKey string
}

// register adds token create's flags to fs.
func (f *tokenCreateFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.ttl, "ttl", config.DefaultTokenTTL, "how long the token lives; 0 for ever")
	fs.StringVar(&f.description, "description", "", "a note stored with the token")
	fs.BoolVar(&f.printJoin, "print-join-command", false, "print the whole join command")
	fs.StringVar(&f.certificateKey, "certificate-key", "", "with --print-join-command: print the control-plane join "+
		"command for this key (the certificates must be uploaded with it: `kubestrap init phase upload-certs --upload-certs`, "+
		"which keeps a key it makes in "+layout.CertificateKeyFile+")")
	// Not checked: any -o but json has always printed text.
	f.output = addOutput(fs, "", "json: the join information as JSON")
}

func newTokenCreateCommand(out io.Writer, kubeconfig *string) *cobra.Command {
	f := &tokenCreateFlags{}
	cmd := &cobra.Command{Use: "create [TOKEN]", Short: "Create a bootstrap token", Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runTokenCreate(out, *kubeconfig, f, args)
		}}
	f.register(cmd.Flags())
	return cmd
}

// runTokenCreate creates the token (args[0], or a new one) and prints it,
// or the join command or JSON join information.
func runTokenCreate(out io.Writer, kubeconfig string, f *tokenCreateFlags, args []string) error {
	tok, err := tokenToCreate(f, args)
	if err != nil {
		return err
	}
	c, err := tokens.AdminClient(kubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := time.Now()
	if err := tokens.Create(ctx, c, tok, now); err != nil {
		return err
	}
	if !f.printJoin && !f.output.isJSON() {
		_, err = fmt.Fprintln(out, tok.Token)
		return err
	}
	info, err := tokens.JoinInfoFromCluster(ctx, c, tok.Token, f.ttl, now)
	if err != nil {
		return err
	}
	line := info.JoinCommand
	if f.certificateKey != "" {
		info = info.WithControlPlane(f.certificateKey)
		line = info.ControlPlaneJoinCommand
	}
	info.Changed = true // a token was created
	return f.output.print(out, info, func() error {
		_, err := fmt.Fprintln(out, line)
		return err
	})
}

// tokenToCreate checks the arguments and flags before anything reaches the
// cluster, and makes the token to create. A --certificate-key implies
// --print-join-command.
func tokenToCreate(f *tokenCreateFlags, args []string) (config.BootstrapToken, error) {
	tok := config.BootstrapToken{Description: f.description, TTL: &metav1.Duration{Duration: f.ttl},
		Usages: config.DefaultTokenUsages, Groups: []string{config.DefaultNodeTokenGroup}}
	if len(args) == 1 {
		if !bootstraputil.IsValidBootstrapToken(args[0]) {
			return tok, usage(fmt.Errorf("malformed bootstrap token: a token looks like abcdef.0123456789abcdef"))
		}
		tok.Token = args[0]
	} else {
		var err error
		if tok.Token, err = bootstraputil.GenerateBootstrapToken(); err != nil {
			return tok, err
		}
	}
	if f.ttl < 0 {
		return tok, usage(fmt.Errorf("--ttl must not be negative (0 means never expires)"))
	}
	if f.certificateKey != "" {
		if err := certs.CheckCertificateKey(f.certificateKey); err != nil {
			return tok, usage(err)
		}
		f.printJoin = true
	}
	return tok, nil
}

func newTokenListCommand(out io.Writer, kubeconfig *string) *cobra.Command {
	var o *output
	cmd := &cobra.Command{Use: "list", Short: "List bootstrap tokens (ids, never secrets)", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := tokens.AdminClient(*kubeconfig)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			list, err := tokens.List(ctx, c)
			if err != nil {
				return err
			}
			return o.print(out, list, func() error { return tokens.WriteList(out, list) })
		}}
	o = addOutput(cmd.Flags(), "", "json") // not checked, as always
	return cmd
}

func newTokenDeleteCommand(out io.Writer, kubeconfig *string) *cobra.Command {
	return &cobra.Command{Use: "delete ID...", Short: "Delete bootstrap tokens", Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := tokens.AdminClient(*kubeconfig)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, id := range args {
				if err := tokens.Delete(ctx, c, id); err != nil {
					return err
				}
				fmt.Fprintf(out, "token %s deleted\n", strings.SplitN(id, ".", 2)[0])
			}
			return nil
		}}
}
