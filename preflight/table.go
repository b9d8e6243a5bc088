package preflight

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints `kubestrap preflight`'s report for a person: the node
// and address it checked for, then one row per check. A message over
// several lines shows its first line in the table and in full below it,
// so that the table stays readable.
func WriteTable(out io.Writer, results []Result, nodeName, address, note string) {
	fmt.Fprintf(out, "node %s, advertise address %s (%s)\n\n", nodeName, address, note)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAILS")
	for _, r := range results {
		msgs := append(append([]string{}, r.Errors...), r.Warnings...)
		if r.Info != "" {
			msgs = append([]string{r.Info}, msgs...)
		}
		first := ""
		if len(msgs) > 0 {
			first = firstLine(msgs[0])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, first)
		for _, m := range msgs[min(1, len(msgs)):] {
			fmt.Fprintf(tw, "\t\t%s\n", firstLine(m))
		}
	}
	_ = tw.Flush()
	for _, r := range results {
		for _, m := range append(append([]string{}, r.Errors...), r.Warnings...) {
			if strings.Contains(m, "\n") {
				fmt.Fprintf(out, "\n%s:\n  %s\n", r.Name, m)
			}
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
