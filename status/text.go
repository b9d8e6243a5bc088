package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report as tables, the problems last with their
// fixes, so that what needs doing is what the admin reads last.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "node %s (%s); kubestrap %s, Kubernetes %s, kubelet %s\n", r.Node, r.Role, r.Versions.Kubestrap,
		dash(r.Versions.Kubernetes), dash(r.Versions.Kubelet))
	table(tw, "SERVICE\tSTATE", len(r.Services), func(i int) string { return r.Services[i].Name + "\t" + r.Services[i].State })
	table(tw, "STATIC POD\tHEALTH", len(r.StaticPods), func(i int) string {
		p := r.StaticPods[i]
		return p.Name + "\t" + health(p.Healthy, p.Error)
	})
	if r.Etcd != nil {
		r.Etcd.table(tw)
	}
	table(tw, "NODE\tSTATUS\tKUBELET", len(r.Nodes), func(i int) string {
		n := r.Nodes[i]
		st := "Ready"
		if !n.Ready {
			st = "NotReady: " + n.Reason
		}
		return n.Name + "\t" + st + "\t" + dash(n.Kubelet)
	})
	table(tw, "CERTIFICATE\tEXPIRES\tRESIDUAL", len(r.Certificates), func(i int) string {
		c := r.Certificates[i]
		if c.Error != "" {
			return c.Name + "\tunreadable: " + c.Error + "\t-"
		}
		return c.Name + "\t" + c.NotAfter.Format("2006-01-02 15:04 MST") + "\t" + c.Residual
	})
	table(tw, "TOKEN\tEXPIRES\tDESCRIPTION", len(r.Tokens), func(i int) string {
		t := r.Tokens[i]
		return t.ID + "\t" + or(t.Expires, "never") + "\t" + dash(t.Description)
	})
	if err := tw.Flush(); err != nil {
		return err
	}
	return r.writeProblems(w)
}

// WriteText prints the members as a table.
func (e *Etcd) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	e.table(tw)
	return tw.Flush()
}

func (e *Etcd) table(w io.Writer) {
	table(w, "ETCD MEMBER\tID\tHEALTH\tLEADER\tPEER URLS\tCLIENT URLS", len(e.Members), func(i int) string {
		m := e.Members[i]
		h := health(m.Healthy, "")
		if m.Learner {
			h = "learner"
		}
		return strings.Join([]string{or(m.Name, "(unstarted)"), m.ID, h, yes(m.Leader), strings.Join(m.PeerURLs, ","),
			dash(strings.Join(m.ClientURLs, ","))}, "\t")
	})
}

func (r *Report) writeProblems(w io.Writer) error {
	var err error
	switch {
	case r.Role == None:
		_, err = fmt.Fprintln(w, "\nthis host is not part of a cluster: `kubestrap init` makes one, `kubestrap join` joins one")
	case len(r.Problems) == 0:
		_, err = fmt.Fprintln(w, "\nhealthy: nothing needs attention")
	default:
		fmt.Fprintf(w, "\n%d problem(s) need attention:\n", len(r.Problems))
		for _, p := range r.Problems {
			_, err = fmt.Fprintf(w, "  - %s\n    fix: %s\n", p.What, p.Fix)
		}
	}
	return err
}

// table prints a header and n rows, after a blank line; none when n is 0.
func table(w io.Writer, header string, n int, row func(i int) string) {
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", header)
	for i := range n {
		fmt.Fprintln(w, row(i))
	}
}

func health(ok bool, why string) string {
	if ok {
		return "healthy"
	}
	return strings.TrimSpace("unhealthy " + why)
}

func yes(b bool) string {
	if b {
		return "*"
	}
	return ""
}

func dash(s string) string { return or(s, "-") }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
