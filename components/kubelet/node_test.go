package kubelet

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/poll"
)

var ctx = context.Background()

func TestFinalizeKubeletConfig(t *testing.T) {
	dir := t.TempDir()
	kc := certs.NewKubeconfig("kubernetes", "https://192.168.56.10:6443", "system:node:cp-1", []byte("ca"), []byte("cert"), []byte("key"))
	b, _ := clientcmd.Write(*kc)
	path := filepath.Join(dir, "conf")
	_ = os.WriteFile(path, b, 0o600)
	current := filepath.Join(dir, "kubelet-client-current.pem")
	_ = os.WriteFile(current, []byte("pem"), 0o600)
	changed, err := FinalizeKubeconfig(ctx, "", path, current, poll.Spec{Interval: 10 * time.Millisecond})
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	got, _ := clientcmd.LoadFromFile(path)
	a := got.AuthInfos["system:node:cp-1"]
	if a.ClientCertificate != current || a.ClientKey != current || len(a.ClientCertificateData) != 0 {
		t.Errorf("auth info %+v", a)
	}
	if changed, _ := FinalizeKubeconfig(ctx, "", path, current, poll.Spec{Interval: 10 * time.Millisecond}); changed {
		t.Error("second finalize changed the file")
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := FinalizeKubeconfig(tctx, "", path, filepath.Join(dir, "missing.pem"), poll.Spec{Interval: 10 * time.Millisecond}); err == nil {
		t.Error("missing rotated certificate not reported")
	}
}
