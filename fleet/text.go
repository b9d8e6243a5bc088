package fleet

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// DefaultKubeconfig is where up writes the admin kubeconfig when not told:
// beside the Cluster file at file, named after the cluster, so that the
// kubeconfigs of several clusters kept in one dir do not overwrite each
// other.
func DefaultKubeconfig(c *Cluster, file string) string {
	name := "admin.conf"
	if c.Metadata.Name != "" {
		name = strings.ToLower(c.Metadata.Name) + ".admin.conf"
	}
	return filepath.Join(filepath.Dir(file), name)
}

// WriteText prints the report for a person and, after a run that worked
// and wrote a kubeconfig, the line that puts kubectl on the new cluster.
func (rep *Report) WriteText(out io.Writer) {
	fmt.Fprintln(out, rep.String())
	if rep.Error == "" && rep.Kubeconfig != "" {
		fmt.Fprintf(out, "export KUBECONFIG=%s\n", rep.Kubeconfig)
	}
}
