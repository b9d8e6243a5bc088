package certs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// User is a person's (or a program's) client certificate: CommonName is
// the user name the API server sees, Organization its groups.
type User struct {
	Name     string
	Groups   []string
	Validity time.Duration
	// Namespace is the kubeconfig context's default namespace ("" for none).
	Namespace string
}

// CheckUser refuses names the API server reserves or that would hand out
// more than a kubeconfig for a person should carry: system: names belong
// to the cluster's own components, and system:masters bypasses RBAC for
// ever (no RoleBinding can take it back; the break-glass file is
// super-admin.conf).
func CheckUser(u User) error {
	if strings.TrimSpace(u.Name) == "" {
		return errors.New("--client-name is empty: name the user, e.g. --client-name alice")
	}
	if strings.HasPrefix(u.Name, "system:") {
		return fmt.Errorf("--client-name %q: system: names are the cluster's own components; choose a person's name", u.Name)
	}
	for _, g := range u.Groups {
		if g == "system:masters" {
			return errors.New("--org system:masters bypasses RBAC and cannot be revoked: give the user --clusterrole " +
				"admin (or bind kubeadm:cluster-admins) instead")
		}
	}
	if u.Validity < time.Hour {
		return fmt.Errorf("--validity-period %s is shorter than an hour", u.Validity)
	}
	return nil
}

// UserKubeconfig signs a client certificate for u with the cluster CA in
// p.Dir, no longer valid than the CA, and returns a kubeconfig for server
// that embeds it, with the certificate's expiry.
func (p *PKI) UserKubeconfig(u User, clusterName, server string) ([]byte, time.Time, error) {
	if err := CheckUser(u); err != nil {
		return nil, time.Time{}, err
	}
	ca, caKey, err := p.LoadCA(caBase)
	if err != nil {
		return nil, time.Time{}, err
	}
	validity := u.Validity
	if left := time.Until(ca.NotAfter); left < validity {
		validity = left
	}
	cfg, cert, err := p.clientKubeconfig(ca, caKey, Subject{CommonName: u.Name, Organization: u.Groups}, validity,
		clusterName, server)
	if err != nil {
		return nil, time.Time{}, err
	}
	if u.Namespace != "" {
		cfg.Contexts[cfg.CurrentContext].Namespace = u.Namespace
	}
	b, err := clientcmd.Write(*cfg)
	return b, cert.NotAfter, err
}
