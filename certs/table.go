package certs

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kubestrap/kubestrap/config"
)

// Listed is one certificate or kubeconfig of `kubestrap certs list`; its
// JSON form is the command's contract.
type Listed struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	CA     string `json:"ca,omitempty"`
	Common string `json:"commonName"`
}

// Listing is every certificate and kubeconfig kubestrap manages for c.
// Kubeconfig files are named relative to the PKI dir, where they sit
// beside it, so that every row's File reads from the same place.
func Listing(c *config.Init) []Listed {
	var rows []Listed
	for _, s := range Tree(c) {
		rows = append(rows, Listed{s.Name, s.BaseName + ".crt", s.CA, s.CommonName})
	}
	for _, k := range Kubeconfigs(c) {
		rows = append(rows, Listed{k.Name, "../" + k.File, CAName, k.CommonName})
	}
	return rows
}

// WriteListing prints rows as `certs list`'s table.
func WriteListing(out io.Writer, rows []Listed) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFILE\tCA\tCOMMON NAME")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.File, dash(r.CA), r.Common)
	}
	return tw.Flush()
}

// WriteExpiryTable prints rows as `certs check-expiration`'s table; a
// missing or unreadable file says so where its expiry would be.
func WriteExpiryTable(out io.Writer, rows []Expiry) error {
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

// dash stands in for an empty cell, so that columns stay aligned.
func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
