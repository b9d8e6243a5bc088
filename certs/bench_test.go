package certs

import (
	"path/filepath"
	"testing"
)

// BenchmarkEnsureAll measures a fresh PKI tree (10 certificates and the
// service-account key, generated in parallel) per key algorithm.
func BenchmarkEnsureAll(b *testing.B) {
	for _, algo := range []string{"RSA-2048", "ECDSA-P256"} {
		b.Run(algo, func(b *testing.B) {
			t := &testing.T{}
			c := testConfig(t, algo)
			for i := 0; i < b.N; i++ {
				p := New(c, filepath.Join(b.TempDir(), "pki"))
				if _, err := p.EnsureAll(Tree(c)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReuse measures a re-run over an existing tree: the idempotent
// path init takes on every repeat.
func BenchmarkReuse(b *testing.B) {
	c := testConfig(&testing.T{}, "RSA-2048")
	p := New(c, filepath.Join(b.TempDir(), "pki"))
	if _, err := p.EnsureAll(Tree(c)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.EnsureAll(Tree(c)); err != nil {
			b.Fatal(err)
		}
	}
}
