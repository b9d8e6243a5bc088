package etcd

import (
	"strings"
	"testing"
)

func TestClientNeedsReadableCredentials(t *testing.T) {
	_, err := Client([]string{"https://127.0.0.1:2379"}, TLSFiles{CA: "/nonexistent/ca.crt", Cert: "/nonexistent/c.crt",
		Key: "/nonexistent/c.key"})
	if err == nil || !strings.Contains(err.Error(), "etcd client credentials") {
		t.Errorf("got %v", err)
	}
}
