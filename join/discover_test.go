package join

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeAPI serves cluster-info and the token-info ConfigMap like an API server.
func fakeAPI(t *testing.T, data map[string]string, tokens map[string]string, date time.Time) *httptest.Server {
	t.Helper()
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", date.UTC().Format(http.TimeFormat))
		var cm corev1.ConfigMap
		switch r.URL.Path {
		case "/api/v1/namespaces/kube-public/configmaps/cluster-info":
			cm = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info"}, Data: data}
		case "/api/v1/namespaces/kube-public/configmaps/" + TokenInfoConfigMap:
			if tokens == nil {
				http.NotFound(w, r)
				return
			}
			cm = corev1.ConfigMap{Data: tokens}
		default:
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(cm)
	}))
}

func TestDiscoverFailures(t *testing.T) {
	data, pin := clusterInfo(t)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name    string
		token   string
		pins    []string
		tokens  map[string]string
		wantErr error
		want    string
	}{
		{"unknown token", "zzzzzz.0123456789abcdef", []string{pin}, map[string]string{"abcdef": "never"}, ErrTokenUnknown, "no token zzzzzz"},
		{"expired token", "qqqqqq.0123456789abcdef", []string{pin}, map[string]string{"qqqqqq": past}, ErrTokenExpired, "expired at " + past},
		{"wrong pin", token, []string{"sha256:" + strings.Repeat("1", 64)}, nil, ErrCAMismatch, pin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeAPI(t, data, tt.tokens, time.Now())
			defer srv.Close()
			d := &Discoverer{Endpoint: strings.TrimPrefix(srv.URL, "https://"), Token: tt.token, Pins: tt.pins,
				UnknownGrace: time.Minute, Now: time.Now, Warn: func(string) {}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			_, err := d.Discover(ctx)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %v with %q", err, tt.wantErr, tt.want)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("a definite failure took %v: it was retried", time.Since(start))
			}
		})
	}
}

func TestDiscoverSucceedsAndWarnsOnSkew(t *testing.T) {
	data, pin := clusterInfo(t)
	srv := fakeAPI(t, data, nil, time.Now().Add(-5*time.Minute))
	defer srv.Close()
	var warned []string
	d := &Discoverer{Endpoint: strings.TrimPrefix(srv.URL, "https://"), Token: token, Pins: []string{pin},
		UnknownGrace: time.Second, Now: time.Now, Warn: func(s string) { warned = append(warned, s) }}
	// The fake server's certificate is not from the cluster CA, so the
	// verified re-fetch must fail: discovery never trusts an unpinned peer.
	_, err := d.Discover(context.Background())
	if err == nil || !strings.Contains(err.Error(), "trusting only the pinned CA") {
		t.Fatalf("re-fetch over an unpinned TLS peer: got %v", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "clock") {
		t.Errorf("skew warnings %v", warned)
	}
}

func TestDiscoverUnreachable(t *testing.T) {
	d := &Discoverer{Endpoint: "127.0.0.1:1", Token: token, Pins: []string{"sha256:" + strings.Repeat("1", 64)},
		UnknownGrace: time.Second, Now: time.Now, Warn: func(string) {}}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	_, err := d.Discover(ctx)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "firewall-cmd") {
		t.Errorf("got %v", err)
	}
}
