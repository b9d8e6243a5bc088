package join

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// FileDiscovery reads the cluster's endpoint and CA from a kubeconfig file
// or an https URL (verified against the system's CAs). The kubeconfig is
// trusted as given, so no pin is needed; a token in it serves for TLS
// bootstrap when none is passed.
func FileDiscovery(ctx context.Context, location string) (*ClusterInfo, string, error) {
	data, err := readLocation(ctx, location)
	if err != nil {
		return nil, "", err
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, "", fmt.Errorf("discovery file %s: %w", location, err)
	}
	cluster, token, err := currentCluster(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("discovery file %s: %w", location, err)
	}
	info, err := ParseClusterInfoKubeconfig(mustWrite(clusterOnly(cluster)))
	if err != nil {
		return nil, "", fmt.Errorf("discovery file %s: %w", location, err)
	}
	return info, token, nil
}

func readLocation(ctx context.Context, location string) ([]byte, error) {
	if strings.HasPrefix(location, "http://") {
		return nil, errors.New("--discovery-file must be a local file or an https:// URL: plain http could be tampered with")
	}
	if !strings.HasPrefix(location, "https://") {
		return os.ReadFile(location)
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, err
	}
	resp, err := discoveryHTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch discovery file: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch discovery file %s: %s", location, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// discoveryFetchTimeout bounds the whole https fetch of a discovery file,
// so that a server that accepts and never answers cannot hang join.
const discoveryFetchTimeout = 30 * time.Second

// discoveryHTTPClient follows redirects only to https: a redirect to http
// would hand the cluster's identity to whoever sits on the path.
var discoveryHTTPClient = &http.Client{
	Timeout: discoveryFetchTimeout,
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return fmt.Errorf("refusing the redirect from %s to %s: the discovery file must come over https", via[len(via)-1].URL, req.URL)
		}
		if len(via) >= 5 {
			return errors.New("more than 5 redirects fetching the discovery file")
		}
		return nil
	},
}

func currentCluster(cfg *clientcmdapi.Config) (*clientcmdapi.Cluster, string, error) {
	name := ""
	token := ""
	if ctx, ok := cfg.Contexts[cfg.CurrentContext]; ok {
		name = ctx.Cluster
		if u, ok := cfg.AuthInfos[ctx.AuthInfo]; ok {
			token = u.Token
		}
	} else if len(cfg.Clusters) == 1 {
		for n := range cfg.Clusters {
			name = n
		}
	}
	c, ok := cfg.Clusters[name]
	if !ok {
		return nil, "", errors.New("no cluster in the current context")
	}
	if len(c.CertificateAuthorityData) == 0 {
		return nil, "", errors.New("the cluster has no certificate-authority-data")
	}
	return c, token, nil
}

func clusterOnly(c *clientcmdapi.Cluster) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = c
	return cfg
}

func mustWrite(cfg *clientcmdapi.Config) []byte {
	b, _ := clientcmd.Write(*cfg)
	return b
}
