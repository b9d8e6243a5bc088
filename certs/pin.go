package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
)

// PinPrefix is the only hash kind kubestrap pins a CA with.
const PinPrefix = "sha256:"

// Pin returns the CA public-key pin joining nodes check: "sha256:" and the
// hex SHA-256 of the certificate's DER SubjectPublicKeyInfo. Hashing the key
// rather than the certificate keeps the pin valid across CA renewal with
// the same key; it is the same value kubeadm prints.
func Pin(ca *x509.Certificate) string {
	sum := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	return PinPrefix + hex.EncodeToString(sum[:])
}

// MatchesAnyPin reports whether ca matches one of the pins. Every pin is
// considered, not only the first.
func MatchesAnyPin(ca *x509.Certificate, pins []string) bool {
	p := Pin(ca)
	for _, want := range pins {
		if want == p {
			return true
		}
	}
	return false
}
