package tokens

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteList prints tokens as `kubestrap token list`'s table: ids only,
// never secrets.
func WriteList(out io.Writer, tokens []Token) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEXPIRES\tUSAGES\tDESCRIPTION")
	for _, t := range tokens {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, dash(t.Expires), strings.Join(t.Usages, ","), dash(t.Description))
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
