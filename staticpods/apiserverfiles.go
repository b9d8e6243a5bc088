package staticpods

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubestrap/kubestrap/audit"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/encryption"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// ErrNoEncryptionKeys means secrets encryption is on and this node lacks
// the keys; the caller names the phase that brings them.
var ErrNoEncryptionKeys = errors.New("secrets encryption is on, but this node's encryption keys do not read")

// PrepareAPIServer makes sure the files the API server's manifest names
// are there before the manifest is: it writes kubestrap's audit policy,
// and checks the encryption keys and a policy of the user's own. An API
// server started without one of them only crash-loops, with the reason
// deep in its container log. certDir is the certificates dir as this run
// sees it; hostPath maps other node paths (dry run, tests).
// It never makes encryption keys: only init's first control plane may
// (certs/encryption-config); another made here would not decrypt the
// cluster's Secrets.
func PrepareAPIServer(c *config.ClusterConfiguration, certDir string, hostPath func(string) string) (string, error) {
	var notes []string
	if c.SecretsEncryption.On() {
		p := filepath.Join(c.CertificatesDir, layout.EncryptionConfig)
		if _, err := encryption.Read(filepath.Join(certDir, layout.EncryptionConfig)); err != nil {
			return "", fmt.Errorf("%w (%w); a control plane that joins gets them with the uploaded certificates "+
				"(--certificate-key), or takes a copy of the first one's %s (mode 0600)", ErrNoEncryptionKeys, err, p)
		}
		notes = append(notes, "encryption keys in "+p)
	}
	a := c.APIServer.Audit
	if !a.On() {
		return strings.Join(notes, "; "), nil
	}
	if a.PolicyFile != "" {
		if _, err := os.Stat(hostPath(a.PolicyFile)); err != nil {
			return "", fmt.Errorf("apiServer.audit.policyFile: %w: copy the policy to this control plane, or leave "+
				"policyFile out for kubestrap's", err)
		}
		return strings.Join(notes, "; "), nil
	}
	wrote, err := audit.WriteDefault(hostPath(layout.AuditPolicyPath))
	if err != nil {
		return "", err
	}
	if wrote {
		notes = append(notes, "wrote "+layout.AuditPolicyPath)
	}
	return strings.Join(notes, "; "), nil
}

// EncryptionConfigPath is the API server's encryption configuration on
// this node (a host path under root), as its manifest names it; "" when it
// encrypts nothing or the node runs no API server.
func EncryptionConfigPath(root node.Root) (string, error) {
	flags, err := ReadFlags(ManifestPath(root.Path(layout.ManifestDir), KubeAPIServer), KubeAPIServer)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if p := flags["encryption-provider-config"]; p != "" {
		return root.Path(p), nil
	}
	return "", nil
}
