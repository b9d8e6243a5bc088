package tokens

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/kubestrap/kubestrap/certs"
)

// JoinInfo is show-join-command's `-o json` output, a stable interface
// for Ansible and scripts.
type JoinInfo struct {
	// Changed says whether the command that printed it changed anything
	// (kubestrap's JSON contract).
	Changed      bool     `json:"changed"`
	Endpoint     string   `json:"endpoint"`
	Token        string   `json:"token"`
	CACertHashes []string `json:"caCertHashes"`
	TokenExpires string   `json:"tokenExpires,omitempty"`
	JoinCommand  string   `json:"joinCommand"`
	// CertificateKey and ControlPlaneJoinCommand are set when the
	// control-plane certificates were uploaded (they expire with them, 2 h).
	CertificateKey          string `json:"certificateKey,omitempty"`
	ControlPlaneJoinCommand string `json:"controlPlaneJoinCommand,omitempty"`
	// Note explains missing fields, e.g. an expired token.
	Note string `json:"note,omitempty"`
}

// WithControlPlane adds the control-plane join command for a certificate
// key.
func (j JoinInfo) WithControlPlane(certificateKey string) JoinInfo {
	j.CertificateKey = certificateKey
	j.ControlPlaneJoinCommand = j.JoinCommand + " --control-plane --certificate-key " + certificateKey
	return j
}

// NewJoinInfo builds the join command for a token.
func NewJoinInfo(endpoint, token string, ca *x509.Certificate, expires time.Time) JoinInfo {
	pin := certs.Pin(ca)
	j := JoinInfo{Endpoint: endpoint, Token: token, CACertHashes: []string{pin},
		JoinCommand: fmt.Sprintf("kubestrap join %s --token %s --discovery-token-ca-cert-hash %s", endpoint, token, pin)}
	if !expires.IsZero() {
		j.TokenExpires = expires.UTC().Format(time.RFC3339)
	}
	return j
}
