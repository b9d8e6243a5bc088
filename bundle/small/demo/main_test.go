package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(_ context.Context, h string) ([]string, error) {
	if a, ok := f[h]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDemoEndpoints(t *testing.T) {
	backend := httptest.NewServer(newMux("pod=b node=n2", fakeResolver{}, http.DefaultClient, insecureClient()))
	defer backend.Close()
	tlsBackend := httptest.NewTLSServer(newMux("pod=c node=n3", fakeResolver{}, http.DefaultClient, insecureClient()))
	defer tlsBackend.Close()
	srv := httptest.NewServer(newMux("pod=a node=n1", fakeResolver{"kubernetes.default.svc.cluster.local": {"10.96.0.1"}},
		http.DefaultClient, insecureClient()))
	defer srv.Close()
	tests := []struct {
		path string
		code int
		want string
	}{
		{"/", 200, "pod=a node=n1\n"},
		{"/healthz", 200, "ok\n"},
		{"/resolve?name=kubernetes.default.svc.cluster.local", 200, "10.96.0.1\n"},
		{"/resolve?name=nope", 502, "no such host"},
		{"/fetch?url=" + backend.URL + "/", 200, "pod=b node=n2\n"},
		{"/fetch?url=file:///etc/passwd", 502, "need an http(s) URL"},
		{"/fetch?url=" + tlsBackend.URL + "/", 502, "certificate"},
		{"/fetch?insecure=1&url=" + tlsBackend.URL + "/", 200, "pod=c node=n3\n"},
	}
	for _, tt := range tests {
		code, body := get(t, srv.URL+tt.path)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %q, want %d %q", tt.path, code, body, tt.code, tt.want)
		}
	}
}

func TestIdentityFromEnv(t *testing.T) {
	t.Setenv("POD_NAME", "demo-1")
	t.Setenv("NODE_NAME", "lab-2")
	if got := identity(); got != "pod=demo-1 node=lab-2" {
		t.Errorf("identity %q", got)
	}
}

func TestClientMode(t *testing.T) {
	srv := httptest.NewServer(newMux("pod=x node=y", fakeResolver{}, http.DefaultClient, insecureClient()))
	defer srv.Close()
	var out strings.Builder
	if code := client("get", srv.URL+"/", &out); code != 0 || out.String() != "pod=x node=y\n" {
		t.Errorf("get: %d %q", code, out.String())
	}
	if code := client("get", "ftp://x", &out); code != 1 {
		t.Errorf("bad URL: code %d", code)
	}
	if code := client("nope", "x", &out); code != 1 {
		t.Errorf("bad verb: code %d", code)
	}
}

func TestLoadCountsFailures(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	var out strings.Builder
	sent, failed := load(ctx, srv.Client(), srv.URL, 20*time.Millisecond, 100*time.Millisecond, &out)
	if sent < 5 || (failed != sent/2 && failed != (sent-1)/2) || !strings.Contains(out.String(), "503 Service Unavailable") ||
		!strings.Contains(out.String(), fmt.Sprintf("sent %d failed %d\n", sent, failed)) {
		t.Fatalf("sent %d failed %d, output:\n%s", sent, failed, out.String())
	}
}
