// Package renew is certificate renewal on a control-plane node: `kubestrap
// certs renew` reissues leaf certificates and the client certificates of
// the kubeconfigs from the CAs on disk, keeping what each certificate says,
// then restarts the static pods that read them (through the kubelet) and
// waits until they are healthy again; `kubestrap certs auto-renew` runs it
// daily from a systemd timer.
package renew

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kubestrap/kubestrap/certs"
	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/staticpods"
)

// All selects every target.
const All = "all"

// Target is one certificate `certs renew` knows, by kubeadm's name.
type Target struct {
	// Name is kubeadm's: "apiserver", "etcd-peer", "admin.conf".
	Name string
	// Base is the certificate's path below the cert dir without ".crt",
	// or the kubeconfig's file name below the Kubernetes dir.
	Base string
	// CABase is the signing CA's Base.
	CABase     string
	Kubeconfig bool
	// Restart are the static pods that read the certificate only when
	// they start.
	Restart []string
}

// Path is the target's file on a node.
func (t Target) Path(certDir, kubeDir string) string {
	if t.Kubeconfig {
		return filepath.Join(kubeDir, t.Base)
	}
	return filepath.Join(certDir, t.Base+".crt")
}

// Targets lists every renewable certificate: the leaves of certs.Tree and
// the kubeconfigs of certs.Kubeconfigs but kubelet.conf, whose certificate
// the kubelet rotates itself. Names and files come from those declarations
// (which do not depend on the configuration), so each certificate stays
// declared once.
func Targets() []Target {
	c := &config.Init{}
	config.SetInitDefaults(c)
	tree := certs.Tree(c)
	caBase := map[string]string{}
	for _, s := range tree {
		if s.IsCA() {
			caBase[s.Name] = s.BaseName
		}
	}
	var out []Target
	for _, s := range tree {
		if !s.IsCA() {
			out = append(out, Target{Name: s.Name, Base: s.BaseName, CABase: caBase[s.CA], Restart: restartFor(s.Name)})
		}
	}
	for _, k := range certs.Kubeconfigs(c) {
		if k.Name != "kubelet" {
			out = append(out, Target{Name: k.File, Base: k.File, CABase: caBase[certs.CAName], Kubeconfig: true,
				Restart: restartFor(k.File)})
		}
	}
	return out
}

// restartFor maps a certificate to the static pods that use it. etcd's
// health-check client is used only by probes (and kubestrap), admin.conf and
// super-admin.conf by people, so nothing restarts for them.
func restartFor(name string) []string {
	switch name {
	case "apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-client":
		return []string{staticpods.KubeAPIServer}
	case "etcd-server", "etcd-peer":
		return []string{staticpods.Etcd}
	case "controller-manager.conf":
		return []string{staticpods.ControllerManager}
	case "scheduler.conf":
		return []string{staticpods.Scheduler}
	}
	return nil
}

// UnknownNameError is a name `certs renew` does not know.
type UnknownNameError struct{ Names []string }

func (e *UnknownNameError) Error() string {
	var known []string
	for _, t := range Targets() {
		known = append(known, t.Name)
	}
	return fmt.Sprintf("unknown certificate(s) %s: use all or one of %s", strings.Join(e.Names, ", "), strings.Join(known, ", "))
}

// Select returns the targets named (All for every one), in Targets' order.
func Select(names []string) ([]Target, error) {
	if len(names) == 0 {
		return nil, errors.New("name the certificates to renew, or all (see `kubestrap certs renew --help`)")
	}
	all := Targets()
	if slices.Contains(names, All) {
		return all, nil
	}
	var out []Target
	var unknown []string
	for _, n := range names {
		i := slices.IndexFunc(all, func(t Target) bool { return t.Name == n })
		if i < 0 {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownNameError{Names: unknown}
	}
	for _, t := range all {
		if slices.Contains(names, t.Name) {
			out = append(out, t)
		}
	}
	return out, nil
}

// ErrNotControlPlane says the node holds none of the certificates `certs
// renew` renews: a worker, whose only certificate the kubelet rotates.
var ErrNotControlPlane = errors.New("not a control-plane node: it has none of the certificates `kubestrap certs renew` " +
	"renews (a worker's kubelet rotates its own client certificate); run it on the control-plane nodes")

// CheckControlPlane returns ErrNotControlPlane (wrapped, naming the
// directories) when none of the targets exists in certDir or kubeDir.
func CheckControlPlane(certDir, kubeDir string) error {
	for _, t := range Targets() {
		if _, err := os.Stat(t.Path(certDir, kubeDir)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w (looked in %s and %s)", ErrNotControlPlane, certDir, kubeDir)
}
