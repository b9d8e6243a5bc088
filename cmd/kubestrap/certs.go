package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/renew"
)

// certsFlags are the flags of certs list or check-expiration; both have
// --output and --config.
type certsFlags struct {
	certDir, kubeDir, configFile string
	output                       *output
	warnWithin                   time.Duration
}

// load reads the --config file, or the defaults without one.
func (f *certsFlags) load() (*config.Init, error) {
	c, err := config.LoadInit(f.configFile, nil)
	if err != nil {
		return nil, err
	}
	// Names and files do not depend on the node; fill what the tree needs.
	if c.NodeRegistration.Name == "" {
		c.NodeRegistration.Name = "node"
	}
	return c, nil
}

// register adds the flags of list, or with check those of check, to cmd.
// -o is not checked: an unknown format has always printed the table.
func (f *certsFlags) register(cmd *cobra.Command, check bool) {
	f.output = addOutput(cmd.Flags(), "table", "output format: table or json")
	cmd.Flags().StringVar(&f.configFile, "config", "", "kubestrap config file")
	if !check {
		return
	}
	cmd.Flags().StringVar(&f.certDir, "cert-dir", config.DefaultCertificatesDir, "where the PKI is stored")
	cmd.Flags().StringVar(&f.kubeDir, "kubeconfig-dir", layout.KubernetesDir, "where the kubeconfig files are")
	cmd.Flags().DurationVar(&f.warnWithin, "warn-within", renew.AutoWithin,
		"exit 1 when a certificate (CAs included) expires within this time, or cannot be read")
}

func newCertsCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "certs", Short: "Inspect and renew the cluster's certificates"}
	lf, cf := &certsFlags{}, &certsFlags{}
	list := &cobra.Command{Use: "list", Short: "List the certificates kubestrap manages", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := lf.load()
			if err != nil {
				return err
			}
			rows := certs.Listing(c)
			return lf.output.print(out, rows, func() error { return certs.WriteListing(out, rows) })
		}}
	check := &cobra.Command{Use: "check-expiration", Short: "Show when every certificate and kubeconfig expires",
		Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error {
			return runCheckExpiration(out, cf)
		}}
	lf.register(list, false)
	cf.register(check, true)
	key := &cobra.Command{Use: "certificate-key", Short: "Print a new random key for --certificate-key", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			k, err := certs.NewCertificateKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(out, k)
			return err
		}}
	cmd.AddCommand(list, check, key, newCertsRenewCommand(), newAutoRenewCommand(out))
	return cmd
}

// runCheckExpiration prints when each certificate and kubeconfig expires,
// and fails when one expires within --warn-within.
func runCheckExpiration(out io.Writer, f *certsFlags) error {
	c, err := f.load()
	if err != nil {
		return err
	}
	rows := certs.CheckExpiration(f.certDir, f.kubeDir, certs.Tree(c), certs.Kubeconfigs(c), time.Now())
	if err := f.output.print(out, rows, func() error { return certs.WriteExpiryTable(out, rows) }); err != nil {
		return err
	}
	return certs.CheckWindow(rows, f.warnWithin)
}

// writeJSON is kubestrap's one JSON encoder (two-space indent), so the
// commands' JSON and the envelope's look alike.
func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
