// Package certs is kubestrap's PKI: the declarative certificate tree of a
// control-plane node, generated with cfssl; kubeconfig files for the
// components and the admin; the CA public-key pin that joining nodes check;
// and expiry reporting.
package certs

import (
	"net"
	"net/netip"
	"strings"

	"github.com/kubestrap/kubestrap/config"
)

// AdminGroup is the group of admin.conf's identity. init binds it to
// cluster-admin with RBAC, so that, unlike system:masters, it can be revoked.
const AdminGroup = "kubestrap:cluster-admins"

// Usage names understood by cfssl's signer.
const (
	usageSigning  = "digital signature"
	usageKeyEnc   = "key encipherment"
	usageServer   = "server auth"
	usageClient   = "client auth"
	usageCertSign = "cert sign"
	usageCRLSign  = "crl sign"
)

// Spec declares one certificate: which CA signs it, its subject, usages and
// subject alternative names. Specs are values built by Tree, never mutable
// package-level variables.
type Spec struct {
	// Name is the phase name, e.g. "apiserver" or "etcd-server".
	Name string
	// BaseName is the file path under the cert dir without extension.
	BaseName string
	// CA is the Name of the signing CA's spec; empty for a CA.
	CA           string
	CommonName   string
	Organization []string
	Usages       []string
	// Hosts are the DNS names and IPs the certificate must carry.
	Hosts []string
}

// IsCA reports whether the spec is a certificate authority.
func (s Spec) IsCA() bool { return s.CA == "" }

// Names of the CAs.
const (
	CAName           = "ca"
	FrontProxyCA     = "front-proxy-ca"
	EtcdCAName       = "etcd-ca"
	SAKeyName        = "sa"
	caBase           = "ca"
	etcdCABase       = "etcd/ca"
	frontProxyCABase = "front-proxy-ca"
)

// Tree returns every certificate of a control-plane node in the order they
// must be made: the CAs first, then the leaves they sign.
func Tree(c *config.Init) []Spec {
	node := c.NodeRegistration.Name
	adv := c.LocalAPIEndpoint.AdvertiseAddress
	etcdHosts := dedupe([]string{node, "localhost", adv, "127.0.0.1", "::1"})
	leaf := []string{usageSigning, usageKeyEnc}
	return []Spec{
		{Name: CAName, BaseName: caBase, CommonName: "kubernetes", Usages: caUsages()},
		{Name: FrontProxyCA, BaseName: frontProxyCABase, CommonName: "front-proxy-ca", Usages: caUsages()},
		{Name: EtcdCAName, BaseName: etcdCABase, CommonName: "etcd-ca", Usages: caUsages()},
		{Name: "apiserver", BaseName: "apiserver", CA: CAName, CommonName: "kube-apiserver",
			Usages: append(leaf, usageServer), Hosts: APIServerHosts(c)},
		{Name: "apiserver-kubelet-client", BaseName: "apiserver-kubelet-client", CA: CAName,
			CommonName: "kube-apiserver-kubelet-client", Organization: []string{AdminGroup},
			Usages: append(leaf, usageClient)},
		{Name: "front-proxy-client", BaseName: "front-proxy-client", CA: FrontProxyCA,
			CommonName: "front-proxy-client", Usages: append(leaf, usageClient)},
		{Name: "etcd-server", BaseName: "etcd/server", CA: EtcdCAName, CommonName: node,
			Usages: append(leaf, usageServer, usageClient),
			Hosts:  dedupe(append(etcdHosts, c.Cluster.Etcd.Local.ServerCertSANs...))},
		{Name: "etcd-peer", BaseName: "etcd/peer", CA: EtcdCAName, CommonName: node,
			Usages: append(leaf, usageServer, usageClient),
			Hosts:  dedupe(append(etcdHosts, c.Cluster.Etcd.Local.PeerCertSANs...))},
		{Name: "etcd-healthcheck-client", BaseName: "etcd/healthcheck-client", CA: EtcdCAName,
			CommonName: "kube-etcd-healthcheck-client", Usages: append(leaf, usageClient)},
		{Name: "apiserver-etcd-client", BaseName: "apiserver-etcd-client", CA: EtcdCAName,
			CommonName: "kube-apiserver-etcd-client", Usages: append(leaf, usageClient)},
	}
}

func caUsages() []string { return []string{usageSigning, usageKeyEnc, usageCertSign, usageCRLSign} }

// APIServerHosts are the names the API server certificate must be valid for:
// the in-cluster service names, the first service IP, this node, and every
// address a user may reach it by.
func APIServerHosts(c *config.Init) []string {
	d := c.Cluster.Networking.DNSDomain
	hosts := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + d,
		c.NodeRegistration.Name}
	if ip, err := FirstServiceIP(c.Cluster.Networking.ServiceSubnet); err == nil {
		hosts = append(hosts, ip.String())
	}
	hosts = append(hosts, c.LocalAPIEndpoint.AdvertiseAddress)
	if ep := c.Cluster.ControlPlaneEndpoint; ep != "" {
		host := ep
		if h, _, err := net.SplitHostPort(ep); err == nil {
			host = h
		}
		hosts = append(hosts, host)
	}
	hosts = append(hosts, c.Cluster.APIServer.CertSANs...)
	return dedupe(hosts)
}

// FirstServiceIP is the kubernetes Service's ClusterIP: the first address
// of the service subnet.
func FirstServiceIP(subnet string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(subnet))
	if err != nil {
		return netip.Addr{}, err
	}
	return p.Masked().Addr().Next(), nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
