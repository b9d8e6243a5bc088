package certs

import (
	"strings"
	"testing"
)

// A missing or unreadable file says so where its expiry would be.
func TestWriteExpiryTableMissingAndUnreadable(t *testing.T) {
	var b strings.Builder
	err := WriteExpiryTable(&b, []Expiry{{Name: "ca", Kind: "ca", Missing: true, Renewal: RenewedManually},
		{Name: "apiserver", Kind: "certificate", CA: "ca", Error: "bad PEM", Renewal: RenewedByKubestrap}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "missing") || !strings.Contains(lines[2], "unreadable: bad PEM") ||
		strings.Fields(lines[1])[4] != "-" {
		t.Errorf("table:\n%s", b.String())
	}
}
