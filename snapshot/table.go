package snapshot

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteList prints entries as `etcd snapshot list`'s table. A snapshot
// without a sidecar still gets a row, so that no file in the dir is hidden.
func WriteList(out io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tTAKEN\tSIZE\tREVISION\tMEMBER\tKUBERNETES\tSHA256")
	for _, e := range entries {
		i := e.Info
		if i == nil {
			i = &Info{SHA256: "(no sidecar)"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Path, e.Time().Format("2006-01-02 15:04:05 MST"), Size(e.Size),
			i.Revision, dash(i.Member), dash(i.KubernetesVersion), i.SHA256[:min(12, len(i.SHA256))])
	}
	return tw.Flush()
}

// WriteText prints the status as `etcd snapshot status` shows it: one
// "field: value" line each, the sidecar's fields last when there is one.
func (st *Status) WriteText(out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	sha := st.SHA256 + " (no sidecar to compare with)"
	if st.ExpectedSHA256 != "" {
		sha = st.SHA256 + " (matches the sidecar)"
	}
	rows := [][2]string{{"file", st.File}, {"sha256", sha}, {"etcd checksum", st.EtcdChecksum},
		{"revision", fmt.Sprint(st.Revision)}, {"total keys", fmt.Sprint(st.TotalKeys)}, {"total size", Size(st.TotalSize)},
		{"storage version", dash(st.StorageVersion)}}
	if i := st.Sidecar; i != nil {
		rows = append(rows, [2]string{"taken", i.Time.Format(time.RFC3339) + " from member " + i.Member},
			[2]string{"cluster id", i.ClusterID}, [2]string{"kubernetes", dash(i.KubernetesVersion)})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// Size is n bytes for a person, in the largest binary unit it fills.
func Size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// dash stands in for an empty cell, so that columns stay aligned.
func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
