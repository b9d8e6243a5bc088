package status

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kubestrap/kubestrap/node"
)

func TestRoleOf(t *testing.T) {
	touch := func(root string, files ...string) node.Root {
		for _, f := range files {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return node.Root(root)
	}
	tests := []struct {
		files []string
		want  Role
	}{
		{nil, None},
		{[]string{"/etc/kubernetes/kubelet.conf"}, Worker},
		{[]string{"/etc/kubernetes/kubelet.conf", "/etc/kubernetes/manifests/kube-apiserver.yaml"}, ControlPlane},
		{[]string{"/etc/kubernetes/kubestrap-init.yaml"}, ControlPlane},
	}
	for _, tt := range tests {
		if got := RoleOf(touch(t.TempDir(), tt.files...)); got != tt.want {
			t.Errorf("files %v: role %s, want %s", tt.files, got, tt.want)
		}
	}
}
