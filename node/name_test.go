package node

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultName(t *testing.T) {
	if n, err := DefaultName(func() (string, error) { return "CP-1.Example\n", nil }); err != nil || n != "cp-1.example" {
		t.Errorf("got %q, %v", n, err)
	}
	_, err := DefaultName(func() (string, error) { return "", errors.New("no uts") })
	if err == nil || !strings.Contains(err.Error(), "--node-name") {
		t.Errorf("err = %v, want one naming --node-name", err)
	}
}
