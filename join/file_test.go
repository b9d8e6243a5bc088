package join

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func TestFileDiscoveryRefusesRedirectToHTTP(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the plain http server was contacted")
	}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/discovery.conf", http.StatusFound))
	defer tlsSrv.Close()
	trustTestServer(t, tlsSrv)
	_, _, err := FileDiscovery(context.Background(), tlsSrv.URL+"/discovery.conf")
	if err == nil || !strings.Contains(err.Error(), "refusing the redirect") || !strings.Contains(err.Error(), "https") {
		t.Fatalf("redirect to http: %v", err)
	}
}

func TestFileDiscoveryTimesOut(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	defer func() { close(hang); srv.Close() }()
	trustTestServer(t, srv)
	old := discoveryHTTPClient.Timeout
	discoveryHTTPClient.Timeout = 100 * time.Millisecond
	defer func() { discoveryHTTPClient.Timeout = old }()
	start := time.Now()
	if _, _, err := FileDiscovery(context.Background(), srv.URL+"/x"); err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err=%v after %s", err, time.Since(start))
	}
}

// trustTestServer makes the discovery client trust srv's self-signed
// certificate for the test's duration (it trusts only system CAs).
func trustTestServer(t *testing.T, srv *httptest.Server) {
	old := discoveryHTTPClient.Transport
	discoveryHTTPClient.Transport = srv.Client().Transport
	t.Cleanup(func() { discoveryHTTPClient.Transport = old })
}
