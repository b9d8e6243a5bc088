package node

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kubestrap/kubestrap/layout"
)

// One set of rules for every command: a control plane's files win over a
// worker's, a worker is known by join's record or the kubelet's
// kubeconfigs, and a bare host is none.
func TestRoleAt(t *testing.T) {
	for _, tc := range []struct {
		files []string
		want  Role
	}{
		{nil, None},
		{[]string{layout.InitRecord}, ControlPlane},
		{[]string{layout.JoinRecord, filepath.Join(layout.ManifestsSubdir, layout.APIServerManifest)}, ControlPlane},
		{[]string{layout.JoinRecord, layout.AdminConf}, Worker},
		{[]string{layout.BootstrapKubeletConf}, Worker},
		{[]string{layout.KubeletConf}, Worker},
		// kubelet.conf and admin.conf without a record or manifests: a
		// control-plane join cut short, not a worker.
		{[]string{layout.KubeletConf, layout.AdminConf}, None},
	} {
		dir := t.TempDir()
		for _, f := range tc.files {
			p := filepath.Join(dir, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if got := RoleAt(dir); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.files, got, tc.want)
		}
	}
}

// A join leaves the kubelet's kubeconfigs or the CA before its record.
func TestJoinStarted(t *testing.T) {
	dir := t.TempDir()
	if JoinStarted(dir) {
		t.Error("a bare host: started")
	}
	if err := os.WriteFile(filepath.Join(dir, layout.BootstrapKubeletConf), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !JoinStarted(dir) {
		t.Error("bootstrap-kubelet.conf: not started")
	}
}
