package certs

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cloudflare/cfssl/helpers"
)

// Expiry is one row of `kubestrap certs check-expiration`. Its JSON form
// is part of the stable `-o json` output.
type Expiry struct {
	Name      string    `json:"name"`
	File      string    `json:"file"`
	Kind      string    `json:"kind"` // "ca", "certificate" or "kubeconfig"
	CA        string    `json:"ca,omitempty"`
	NotAfter  time.Time `json:"notAfter"`
	Residual  string    `json:"residual"`
	ResidualS int64     `json:"residualSeconds"`
	Expired   bool      `json:"expired"`
	Missing   bool      `json:"missing,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// CheckExpiration lists every certificate of the tree and every client
// certificate embedded in the kubeconfigs found in kubeDir.
func CheckExpiration(certDir, kubeDir string, specs []Spec, kcs []KubeconfigSpec, now time.Time) []Expiry {
	var out []Expiry
	for _, s := range specs {
		kind := "certificate"
		if s.IsCA() {
			kind = "ca"
		}
		path := filepath.Join(certDir, s.BaseName+".crt")
		out = append(out, expiryOf(s.Name, path, kind, s.CA, now, readCert))
	}
	for _, k := range kcs {
		out = append(out, expiryOf(k.File, filepath.Join(kubeDir, k.File), "kubeconfig", CAName, now, ReadKubeconfigCert))
	}
	return out
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return helpers.ParseCertificatePEM(b)
}

func expiryOf(name, path, kind, ca string, now time.Time, read func(string) (*x509.Certificate, error)) Expiry {
	e := Expiry{Name: name, File: path, Kind: kind, CA: ca}
	c, err := read(path)
	if errors.Is(err, fs.ErrNotExist) {
		e.Missing = true
		return e
	}
	if err != nil {
		e.Error = err.Error()
		return e
	}
	e.NotAfter = c.NotAfter.UTC()
	left := c.NotAfter.Sub(now)
	e.ResidualS = int64(left / time.Second)
	e.Expired = left <= 0
	e.Residual = HumanDuration(left)
	return e
}

// HumanDuration prints a residual time the way admins read it: 364d, 9y, 5h.
func HumanDuration(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	days := int(d.Hours() / 24)
	switch {
	case days >= 2*365:
		return strconv.Itoa(days/365) + "y"
	case days >= 1:
		return strconv.Itoa(days) + "d"
	case d >= time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Minutes())) + "m"
}
