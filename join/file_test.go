package join

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestrap/kubestrap/certs"
)

func TestFileDiscovery(t *testing.T) {
	data, pin := clusterInfo(t)
	kc, err := clientcmd.Load([]byte(data["kubeconfig"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc.Clusters {
		withUser := certs.NewKubeconfig("k", c.Server, "bootstrap", c.CertificateAuthorityData, nil, nil)
		withUser.AuthInfos["bootstrap"].Token = token
		b, _ := clientcmd.Write(*withUser)
		path := filepath.Join(t.TempDir(), "discovery.conf")
		_ = os.WriteFile(path, b, 0o600)
		info, tok, err := FileDiscovery(context.Background(), path)
		if err != nil || tok != token || certs.Pin(info.CA) != pin || info.Server != c.Server {
			t.Fatalf("got %+v %q %v", info, tok, err)
		}
	}
	if _, _, err := FileDiscovery(context.Background(), "http://example.invalid/x"); err == nil ||
		!strings.Contains(err.Error(), "https") {
		t.Errorf("plain http accepted: %v", err)
	}
	if _, _, err := FileDiscovery(context.Background(), filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
