// Package join is how a node joins a cluster: token and CA-pin discovery,
// TLS bootstrap, identity checks and control-plane join. This file holds
// discovery's verification, which needs no network: given what the API
// server returned, decide whether to trust it.
package join

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/cloudflare/cfssl/helpers"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	"k8s.io/cluster-bootstrap/token/jws"

	"github.com/kubestrap/kubestrap/certs"
)

// ClusterInfo is what discovery learns and trusts.
type ClusterInfo struct {
	Server string
	CA     *x509.Certificate
	CAPEM  []byte
}

// Failure kinds, so that the caller can print a specific message and tests
// can assert which check refused.
var (
	ErrNoSignature  = errors.New("cluster-info carries no signature for this token")
	ErrBadSignature = errors.New("cluster-info signature does not verify with this token")
	ErrCAMismatch   = errors.New("the cluster CA does not match any given --discovery-token-ca-cert-hash")
)

// CAMismatchError reports the hash actually seen, which the admin compares
// with what `kubestrap init` printed.
type CAMismatchError struct {
	Seen string
	Want []string
}

func (e *CAMismatchError) Error() string {
	return fmt.Sprintf("the cluster's CA has hash %s, which matches none of %s: if the hash was copied right, "+
		"this endpoint may be an impostor — do not skip the check", e.Seen, strings.Join(e.Want, ", "))
}

func (e *CAMismatchError) Unwrap() error { return ErrCAMismatch }

// VerifyClusterInfo checks the cluster-info ConfigMap's data fetched
// without TLS verification: the kubeconfig must be signed (detached JWS) by
// the token, and its CA must match one of the pins. skipCA only permits an
// empty pin list: pins that were given are always checked (as kubeadm
// does), so the unsafe flag can never silently disable them.
// Every pin is considered.
func VerifyClusterInfo(data map[string]string, token string, pins []string, skipCA bool) (*ClusterInfo, error) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok {
		return nil, fmt.Errorf("malformed token")
	}
	kc, ok := data[bootstrapapi.KubeConfigKey]
	if !ok {
		return nil, errors.New("cluster-info has no kubeconfig: is this a kubestrap or kubeadm cluster?")
	}
	sig, ok := data[bootstrapapi.JWSSignatureKeyPrefix+id]
	if !ok {
		return nil, fmt.Errorf("%w (token id %s): the token is unknown or expired, or the controller manager has "+
			"not signed it yet; create a new one with `kubestrap token create` on a control-plane node", ErrNoSignature, id)
	}
	if !jws.DetachedTokenIsValid(sig, kc, id, secret) {
		return nil, fmt.Errorf("%w (token id %s): check the token's secret part", ErrBadSignature, id)
	}
	info, err := ParseClusterInfoKubeconfig([]byte(kc))
	if err != nil {
		return nil, err
	}
	if skipCA && len(pins) == 0 {
		return info, nil
	}
	if !certs.MatchesAnyPin(info.CA, pins) {
		return nil, &CAMismatchError{Seen: certs.Pin(info.CA), Want: pins}
	}
	return info, nil
}

// ParseClusterInfoKubeconfig reads the server and CA from cluster-info's
// kubeconfig, which has exactly one cluster.
func ParseClusterInfoKubeconfig(b []byte) (*ClusterInfo, error) {
	cfg, err := clientcmd.Load(b)
	if err != nil {
		return nil, fmt.Errorf("cluster-info kubeconfig: %w", err)
	}
	if len(cfg.Clusters) != 1 {
		return nil, fmt.Errorf("cluster-info kubeconfig has %d clusters, want 1", len(cfg.Clusters))
	}
	for _, c := range cfg.Clusters {
		ca, err := helpers.ParseCertificatePEM(c.CertificateAuthorityData)
		if err != nil {
			return nil, fmt.Errorf("cluster-info CA: %w", err)
		}
		return &ClusterInfo{Server: c.Server, CA: ca, CAPEM: c.CertificateAuthorityData}, nil
	}
	return nil, errors.New("unreachable")
}
