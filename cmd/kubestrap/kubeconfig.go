package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/components/controlplane"
	"github.com/kubestrap/kubestrap/components/tokens"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

func newKubeconfigCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "kubeconfig", Short: "Kubeconfig files for the cluster's users"}
	cmd.AddCommand(newKubeconfigUserCommand(out))
	return cmd
}

type userFlags struct {
	user                          certs.User
	role, file, kubeconfig, certs string
}

// userResult is `kubeconfig user -o json`; Kubeconfig is left out when
// the file went to --out.
type userResult struct {
	User       string    `json:"user"`
	Groups     []string  `json:"groups,omitempty"`
	Namespace  string    `json:"namespace,omitempty"`
	Expires    time.Time `json:"expires"`
	Binding    string    `json:"binding,omitempty"`
	File       string    `json:"file,omitempty"`
	Kubeconfig string    `json:"kubeconfig,omitempty"`
}

func newKubeconfigUserCommand(out io.Writer) *cobra.Command {
	f := &userFlags{}
	var o *output
	cmd := &cobra.Command{Use: "user --client-name NAME", Short: "A kubeconfig with a client certificate for a user, and optionally its role",
		Long: "user signs a client certificate for NAME (groups from --org) with the cluster CA and prints a kubeconfig\n" +
			"for the cluster's endpoint, as kubeadm's does, or writes it to --out (0600). --clusterrole view|edit|admin\n" +
			"binds that role to the user in --namespace (created if absent), or cluster-wide without one. Run it on a\n" +
			"control plane; a certificate cannot be revoked before it expires: keep --validity-period short.",
		Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			return runKubeconfigUser(cmd.Context(), out, f, o)
		}}
	fl := cmd.Flags()
	fl.StringVar(&f.user.Name, "client-name", "", "the user name (the certificate's common name)")
	fl.StringSliceVar(&f.user.Groups, "org", nil, "a group of the user (the certificate's organization); repeatable")
	fl.DurationVar(&f.user.Validity, "validity-period", config.DefaultCertValidity, "how long the certificate is valid")
	fl.StringVar(&f.user.Namespace, "namespace", "", "the kubeconfig's namespace, and where --clusterrole binds")
	fl.StringVar(&f.role, "clusterrole", "", "bind this role to the user: view, edit or admin")
	fl.StringVar(&f.file, "out", "", "write the kubeconfig to this file (0600) instead of standard output")
	fl.StringVar(&f.kubeconfig, "kubeconfig", layout.AdminConfPath, "the admin kubeconfig: the cluster's endpoint, and the binding")
	fl.StringVar(&f.certs, "cert-dir", config.DefaultCertificatesDir, "where the cluster CA is")
	o = addOutput(fl, "", "json: print {user, groups, namespace, expires, binding, file, kubeconfig}", "json")
	return cmd
}

func runKubeconfigUser(ctx context.Context, out io.Writer, f *userFlags, o *output) error {
	if err := certs.CheckUser(f.user); err != nil {
		return usage(err)
	}
	if err := controlplane.CheckUserRole(f.role); err != nil {
		return usage(err)
	}
	admin, err := clientcmd.LoadFromFile(f.kubeconfig)
	if err != nil {
		return fmt.Errorf("read the cluster's endpoint from %s: %w (run this on a control plane)", f.kubeconfig, err)
	}
	kctx := admin.Contexts[admin.CurrentContext]
	if kctx == nil || admin.Clusters[kctx.Cluster] == nil {
		return fmt.Errorf("%s has no current context with a cluster", f.kubeconfig)
	}
	p := &certs.PKI{Dir: f.certs, Algorithm: config.DefaultEncryptionAlgorithm}
	kc, expires, err := p.UserKubeconfig(f.user, kctx.Cluster, admin.Clusters[kctx.Cluster].Server)
	if err != nil {
		return err
	}
	res := userResult{User: f.user.Name, Groups: f.user.Groups, Namespace: f.user.Namespace, Expires: expires.UTC()}
	if f.role != "" {
		c, err := tokens.AdminClient(f.kubeconfig)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if res.Binding, err = controlplane.BindUser(ctx, c, f.user.Name, f.role, f.user.Namespace); err != nil {
			return err
		}
	}
	if f.file != "" {
		if err := node.WriteFileAtomic(f.file, kc, certs.KeyMode); err != nil {
			return err
		}
		res.File = f.file
	} else {
		res.Kubeconfig = string(kc)
	}
	return o.print(out, res, func() error {
		if f.file == "" {
			_, err := out.Write(kc)
			return err
		}
		_, err := fmt.Fprintf(out, "wrote %s for %s (expires %s)%s\n", f.file, f.user.Name,
			expires.UTC().Format(time.RFC3339), bindingNote(res.Binding))
		return err
	})
}

func bindingNote(b string) string {
	if b == "" {
		return ""
	}
	return "; bound by " + b
}
