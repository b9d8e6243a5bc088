package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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
	if err := printExpiry(out, rows, f.output); err != nil {
		return err
	}
	return certs.CheckWindow(rows, f.warnWithin)
}

func printCertList(out io.Writer, c *config.Init, output string) error {
	type row struct {
		Name   string `json:"name"`
		File   string `json:"file"`
		CA     string `json:"ca,omitempty"`
		Common string `json:"commonName"`
	}
	var rows []row
	for _, s := range certs.Tree(c) {
		rows = append(rows, row{s.Name, s.BaseName + ".crt", s.CA, s.CommonName})
	}
	for _, k := range certs.Kubeconfigs(c) {
		rows = append(rows, row{k.Name, "../" + k.File, certs.CAName, k.CommonName})
	}
	if output == "json" {
		return writeJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFILE\tCA\tCOMMON NAME")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.File, dash(r.CA), r.Common)
	}
	return tw.Flush()
}

func printExpiry(out io.Writer, rows []certs.Expiry, output string) error {
	if output == "json" {
		return writeJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CERTIFICATE\tKIND\tEXPIRES\tRESIDUAL TIME\tCA\tRENEWAL")
	for _, r := range rows {
		expires := r.NotAfter.Format("Jan 02, 2006 15:04 MST")
		switch {
		case r.Missing:
			expires, r.Residual = "missing", "-"
		case r.Error != "":
			expires, r.Residual = "unreadable: "+r.Error, "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, expires, r.Residual, dash(r.CA), r.Renewal)
	}
	return tw.Flush()
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
