package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
)

// keyRequest maps kubeadm-style algorithm names to cfssl key requests.
func keyRequest(algorithm string) (*csr.KeyRequest, error) {
	switch algorithm {
	case "RSA-2048", "":
		return &csr.KeyRequest{A: "rsa", S: 2048}, nil
	case "RSA-3072":
		return &csr.KeyRequest{A: "rsa", S: 3072}, nil
	case "RSA-4096":
		return &csr.KeyRequest{A: "rsa", S: 4096}, nil
	case "ECDSA-P256":
		return &csr.KeyRequest{A: "ecdsa", S: 256}, nil
	}
	return nil, fmt.Errorf("unknown encryption algorithm %q", algorithm)
}

// NewKey generates a private key of the configured algorithm.
func NewKey(algorithm string) (crypto.Signer, error) {
	kr, err := keyRequest(algorithm)
	if err != nil {
		return nil, err
	}
	k, err := kr.Generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", algorithm, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("generated key of type %T cannot sign", k)
	}
	return s, nil
}

// EncodeKey PEM-encodes a private key the way kubeadm does (PKCS#1 for RSA,
// SEC 1 for ECDSA) so that tools expecting either keep working.
func EncodeKey(k crypto.Signer) ([]byte, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	}
	return nil, fmt.Errorf("unsupported key type %T", k)
}

// EncodePublicKey PEM-encodes a public key as PKIX, the format of sa.pub.
func EncodePublicKey(k crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseKey parses a PEM private key of any type kubestrap writes.
func ParseKey(pemBytes []byte) (crypto.Signer, error) {
	return helpers.ParsePrivateKeyPEM(pemBytes)
}
