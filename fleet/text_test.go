package fleet

import (
	"strings"
	"testing"
)

func TestDefaultKubeconfig(t *testing.T) {
	c := &Cluster{}
	if got := DefaultKubeconfig(c, "/x/cluster.yaml"); got != "/x/admin.conf" {
		t.Errorf("unnamed: %s", got)
	}
	c.Metadata.Name = "Lab"
	if got := DefaultKubeconfig(c, "/x/cluster.yaml"); got != "/x/lab.admin.conf" {
		t.Errorf("named: %s", got)
	}
}

// Only a run that worked says how to use its kubeconfig.
func TestReportWriteTextExportsOnlyOnSuccess(t *testing.T) {
	for _, tc := range []struct {
		err    string
		export bool
	}{{"", true}, {"boom", false}} {
		var b strings.Builder
		(&Report{Cluster: "lab", Kubeconfig: "/x/lab.admin.conf", Error: tc.err}).WriteText(&b)
		if got := strings.Contains(b.String(), "export KUBECONFIG=/x/lab.admin.conf\n"); got != tc.export {
			t.Errorf("error %q: export %v:\n%s", tc.err, got, b.String())
		}
	}
}
