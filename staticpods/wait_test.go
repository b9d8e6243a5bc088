package staticpods

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaiterReportsEachComponentOnce(t *testing.T) {
	var calls atomic.Int32
	probes := []Probe{
		{Name: "a", Check: func(context.Context) error { return nil }},
		{Name: "b", Check: func(context.Context) error {
			if calls.Add(1) < 3 {
				return errors.New("not yet")
			}
			return nil
		}},
	}
	var out bytes.Buffer
	w := &Waiter{Probes: probes, Interval: time.Millisecond, Out: &out, Prefix: "wait"}
	if err := w.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "a healthy") != 1 || strings.Count(out.String(), "b healthy") != 1 {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestWaiterTimeoutNamesComponentAndLogs(t *testing.T) {
	probes := []Probe{
		{Name: "etcd", Check: func(context.Context) error { return nil }},
		{Name: "kube-apiserver", Check: func(context.Context) error { return errors.New("connection refused") }},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	w := &Waiter{Probes: probes, Interval: 5 * time.Millisecond, Out: &bytes.Buffer{}, Prefix: "wait",
		Logs: func(c string) string { return "E0101 " + c + " cannot open /etc/kubernetes/pki/apiserver.crt" }}
	err := w.Wait(ctx)
	if err == nil {
		t.Fatal("want a timeout")
	}
	msg := err.Error()
	for _, want := range []string{"not healthy", "kube-apiserver: connection refused", "cannot open /etc/kubernetes/pki/apiserver.crt", "journalctl -u kubelet"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "etcd:") {
		t.Errorf("healthy etcd reported: %s", msg)
	}
}

func TestHTTPOK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, "[-]etcd failed\nreadyz check failed", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c := httpClient(nil)
	if err := httpOK(c, srv.URL+"/livez")(context.Background()); err != nil {
		t.Error(err)
	}
	if err := httpOK(c, srv.URL+"/readyz")(context.Background()); err == nil || !strings.Contains(err.Error(), "readyz check failed") {
		t.Errorf("got %v", err)
	}
}
