package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
	// Renewal says who renews the certificate: RenewedByKubestrap,
	// KubeletManaged or RenewedManually.
	Renewal string `json:"renewal"`
}

// Renewal values of Expiry.
const (
	// RenewedByKubestrap: `kubestrap certs renew` (or its timer) renews it.
	RenewedByKubestrap = "kubestrap"
	// KubeletManaged: the kubelet rotates its own client certificate
	// through the cluster's CSR API before it expires.
	KubeletManaged = "kubelet-managed"
	// RenewedManually: a CA; renewing one means a new cluster PKI.
	RenewedManually = "manual"
)

// CheckExpiration lists every certificate of the tree and every client
// certificate of the kubeconfigs found in kubeDir. The kubelet's row shows
// the certificate the kubelet rotates (kubelet-client-current.pem, which
// kubelet.conf names) once it has one.
func CheckExpiration(certDir, kubeDir string, specs []Spec, kcs []KubeconfigSpec, now time.Time) []Expiry {
	var out []Expiry
	for _, s := range specs {
		kind, renewal := "certificate", RenewedByKubestrap
		if s.IsCA() {
			kind, renewal = "ca", RenewedManually
		}
		e := expiryOf(s.Name, filepath.Join(certDir, s.BaseName+".crt"), kind, s.CA, now, ReadCertFile)
		e.Renewal = renewal
		out = append(out, e)
	}
	for _, k := range kcs {
		path := filepath.Join(kubeDir, k.File)
		e := expiryOf(k.File, path, "kubeconfig", CAName, now, ReadKubeconfigCert)
		e.Renewal = RenewedByKubestrap
		if k.Name == "kubelet" {
			e.Renewal = KubeletManaged
			if f := kubeconfigCertFile(path); f != "" {
				e.File = f
			}
		}
		out = append(out, e)
	}
	return out
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

// ShortDuration prints a duration as flags take it, without zero units:
// 720h, 1h30m, 90s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
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

// ExpiringError says that certificates expire within the warning window of
// `certs check-expiration`, or could not be read; it makes the command exit
// non-zero, for monitoring.
type ExpiringError struct {
	Within time.Duration
	Rows   []Expiry
}

func (e *ExpiringError) Error() string {
	names := make([]string, 0, len(e.Rows))
	for _, r := range e.Rows {
		state := r.Residual
		if r.Error != "" {
			state = "unreadable"
		}
		names = append(names, r.Name+" ("+state+")")
	}
	return fmt.Sprintf("%d certificate(s) expire within %s or cannot be read: %s; renew them with "+
		"`kubestrap certs renew all --expiring-within %s` (CAs and kubelet-managed ones excepted)",
		len(e.Rows), ShortDuration(e.Within), strings.Join(names, ", "), ShortDuration(e.Within))
}

// CheckWindow returns an *ExpiringError naming the rows that expire within
// the window (expired ones included) or are unreadable; missing files are
// not counted, since each node has only its role's certificates.
func CheckWindow(rows []Expiry, within time.Duration) error {
	var bad []Expiry
	for _, r := range rows {
		if r.Missing {
			continue
		}
		if r.Error != "" || time.Duration(r.ResidualS)*time.Second <= within {
			bad = append(bad, r)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &ExpiringError{Within: within, Rows: bad}
}
