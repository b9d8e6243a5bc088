package join

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/poll"
)

// TokenInfoConfigMap lists token ids and their expiry times (no secrets)
// in kube-public, so that a joining node can say "expired" rather than
// "unknown". Token ids are public anyway: cluster-info's keys name them.
const TokenInfoConfigMap = "kubestrap-token-info"

// More failure kinds of discovery.
var (
	ErrUnreachable  = errors.New("cannot reach the API server")
	ErrTokenUnknown = errors.New("the token is unknown to the cluster")
	ErrTokenExpired = errors.New("the token has expired")
	ErrChanged      = errors.New("cluster-info changed between the unverified and the verified fetch")
)

// Discoverer finds and trusts a cluster from a token and CA pins.
type Discoverer struct {
	Endpoint string // host:port
	Token    string
	Pins     []string
	SkipCA   bool
	// UnknownGrace is how long a missing signature counts as "not signed
	// yet" (a token made seconds ago) before the token is called unknown.
	UnknownGrace time.Duration
	Warn         func(string)
	Now          func() time.Time
	// Progress receives a line every few seconds while discovery retries.
	Progress io.Writer
}

// discoveryRetry is how often a transient discovery failure is retried.
const discoveryRetry = 500 * time.Millisecond

// Discover fetches cluster-info, verifies it, and fetches it again over
// TLS trusting only the verified CA. Transient failures are retried until
// ctx ends; definite ones return at once.
func (d *Discoverer) Discover(ctx context.Context) (*ClusterInfo, error) {
	start := d.Now()
	skewWarned := false
	var info *ClusterInfo
	err := poll.Until(ctx, poll.Spec{What: "the cluster at " + d.Endpoint + " (cluster-info)", Interval: discoveryRetry,
		Out: d.Progress, Prefix: "discovery"}, func(ctx context.Context) (bool, error) {
		i, retry, err := d.attempt(ctx, start, &skewWarned)
		if err != nil && !retry {
			return false, poll.Permanent(err)
		}
		info = i
		return err == nil, err
	})
	return info, err
}

func (d *Discoverer) attempt(ctx context.Context, start time.Time, skewWarned *bool) (*ClusterInfo, bool, error) {
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the one unverified fetch; its content is verified by JWS and the CA pin
	cm, date, err := d.fetch(ctx, insecure, bootstrapapi.ConfigMapClusterInfo)
	if err != nil {
		return nil, true, err
	}
	if !*skewWarned {
		*skewWarned = d.checkSkew(date)
	}
	id, _, _ := strings.Cut(d.Token, ".")
	info, err := VerifyClusterInfo(cm.Data, d.Token, d.Pins, d.SkipCA)
	if errors.Is(err, ErrNoSignature) {
		retry, why := d.whyUnsigned(ctx, id, err)
		return nil, retry && d.Now().Sub(start) < d.UnknownGrace, why
	}
	if err != nil {
		return nil, false, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(info.CA)
	again, _, err := d.fetch(ctx, &tls.Config{RootCAs: pool}, bootstrapapi.ConfigMapClusterInfo)
	if err != nil {
		return nil, false, fmt.Errorf("fetch cluster-info trusting only the pinned CA: %w", err)
	}
	if again.Data[bootstrapapi.KubeConfigKey] != cm.Data[bootstrapapi.KubeConfigKey] {
		return nil, false, ErrChanged
	}
	return info, false, nil
}

// whyUnsigned tells an expired token from an unknown one using the
// public token-info ConfigMap, and whether waiting may help: a token that
// is listed and valid is only not signed yet; without the ConfigMap (a
// kubeadm cluster) nothing is certain, so discovery waits a little.
func (d *Discoverer) whyUnsigned(ctx context.Context, id string, sigErr error) (bool, error) {
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // read only to choose an error message
	cm, _, err := d.fetch(ctx, insecure, TokenInfoConfigMap)
	fix := "create a new token with `kubestrap token create --print-join-command` on a control-plane node"
	unknown := fmt.Errorf("%w: no token %s (it may have expired and been removed); %s", ErrTokenUnknown, id, fix)
	if err != nil {
		return true, unknown
	}
	exp, ok := cm.Data[id]
	if !ok {
		return false, unknown
	}
	if t, perr := time.Parse(time.RFC3339, exp); perr == nil && d.Now().After(t) {
		return false, fmt.Errorf("%w: token %s expired at %s; %s", ErrTokenExpired, id, exp, fix)
	}
	return true, fmt.Errorf("%w: token %s exists but cluster-info is not signed for it yet "+
		"(is kube-controller-manager running?)", sigErr, id)
}

func (d *Discoverer) checkSkew(date string) bool {
	server, err := http.ParseTime(date)
	if err != nil {
		return false
	}
	skew := d.Now().Sub(server)
	if skew < -time.Minute || skew > time.Minute {
		d.Warn(fmt.Sprintf("this node's clock is %s off the API server's: certificates will look not yet valid "+
			"or expired; sync the clocks (chronyd/ntpd) before going on", skew.Round(time.Second)))
		return true
	}
	return false
}

// fetch GETs a kube-public ConfigMap anonymously.
func (d *Discoverer) fetch(ctx context.Context, tlsCfg *tls.Config, name string) (*corev1.ConfigMap, string, error) {
	url := "https://" + d.Endpoint + "/api/v1/namespaces/kube-public/configmaps/" + name
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", classify(d.Endpoint, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s: %s (is %s a kubestrap or kubeadm cluster's API server?)", url, resp.Status, d.Endpoint)
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(body, &cm); err != nil {
		return nil, "", fmt.Errorf("GET %s: not a ConfigMap: %w", url, err)
	}
	return &cm, resp.Header.Get("Date"), nil
}

func classify(endpoint string, err error) error {
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &certErr):
		return fmt.Errorf("TLS failure talking to %s: the server's certificate is not signed by the pinned CA: %w", endpoint, err)
	case errors.As(err, &opErr) || strings.Contains(err.Error(), "timeout"):
		return fmt.Errorf("%w at %s (%v): is the API server up, and port %s open? "+
			"(firewalld: `firewall-cmd --permanent --add-port=%d/tcp && firewall-cmd --reload` on the control plane)",
			ErrUnreachable, endpoint, err, portOf(endpoint), layout.APIServerPort)
	case strings.Contains(err.Error(), "tls:"):
		return fmt.Errorf("TLS failure talking to %s: %w", endpoint, err)
	}
	return err
}

func portOf(endpoint string) string {
	_, p, err := net.SplitHostPort(endpoint)
	if err != nil {
		return strconv.Itoa(layout.APIServerPort)
	}
	return p
}
