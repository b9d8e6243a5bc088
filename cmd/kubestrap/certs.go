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

// certsFlags are the flags of certs list and check-expiration; the two
// share --output and --config.
type certsFlags struct {
	certDir, kubeDir, configFile, output string
	warnWithin                           time.Duration
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

// register adds the flags of list and check to them.
func (f *certsFlags) register(list, check *cobra.Command) {
	for _, c := range []*cobra.Command{list, check} {
		c.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table or json")
		c.Flags().StringVar(&f.configFile, "config", "", "kubestrap config file")
	}
	check.Flags().StringVar(&f.certDir, "cert-dir", config.DefaultCertificatesDir, "where the PKI is stored")
	check.Flags().StringVar(&f.kubeDir, "kubeconfig-dir", layout.KubernetesDir, "where the kubeconfig files are")
	check.Flags().DurationVar(&f.warnWithin, "warn-within", renew.AutoWithin,
		"exit 1 when a certificate (CAs included) expires within this time, or cannot be read")
}

func newCertsCommand(out io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "certs", Short: "Inspect and renew the cluster's certificates"}
	f := &certsFlags{}
	list := &cobra.Command{Use: "list", Short: "List the certificates kubestrap manages", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := f.load()
			if err != nil {
				return err
			}
			return printCertList(out, c, f.output)
		}}
	check := &cobra.Command{Use: "check-expiration", Short: "Show when every certificate and kubeconfig expires",
		Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error {
			return runCheckExpiration(out, f)
		}}
	f.register(list, check)
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
	if f.output == "json" {
		err = writeJSON(out, rows)
	} else {
		err = certs.WriteExpiryTable(out, rows)
	}
	if err != nil {
		return err
	}
	return certs.CheckWindow(rows, f.warnWithin)
}

func printCertList(out io.Writer, c *config.Init, output string) error {
	if output == "json" {
		return writeJSON(out, certs.Listing(c))
	}
	return certs.WriteListing(out, certs.Listing(c))
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
