package preflight

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubestrap/kubestrap/node"
)

func TestKubeletVersion(t *testing.T) {
	tests := []struct {
		name, out, controlPlane string
		runErr                  error
		wantErr, wantWarn       string
	}{
		{name: "same", out: "Kubernetes v1.35.4\n", controlPlane: "v1.35.4"},
		{name: "kubelet one minor older", out: "Kubernetes v1.34.4\n", controlPlane: "v1.35.4"},
		{name: "bundled kubelet newer than control plane", out: "Kubernetes v1.35.4\n", controlPlane: "v1.33.13",
			wantErr: "kubelet v1.35.4 is newer than the control plane v1.33.13"},
		{name: "four minors older", out: "Kubernetes v1.31.0\n", controlPlane: "v1.35.4", wantErr: "4 minor versions older"},
		{name: "unreadable", runErr: errors.New("exec format error"), controlPlane: "v1.35.4", wantWarn: "cannot tell the version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &node.Host{Run: func(string, ...string) ([]byte, error) { return []byte(tt.out), tt.runErr }}
			warns, errs := KubeletVersion(e, "/opt/kubestrap/kubelet", tt.controlPlane).Check()
			if got := joinErrs(errs); (tt.wantErr == "") != (got == "") || !strings.Contains(got, tt.wantErr) {
				t.Errorf("errors %q, want %q", got, tt.wantErr)
			}
			if got := joinErrs(warns); (tt.wantWarn == "") != (got == "") || !strings.Contains(got, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", got, tt.wantWarn)
			}
		})
	}
}

func joinErrs(errs []error) string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	return strings.Join(s, "; ")
}
