package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Interface is a network interface and its addresses.
type Interface struct {
	Name  string
	Addrs []netip.Addr
}

func hostInterfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(ifs))
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		x := Interface{Name: i.Name}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				x.Addrs = append(x.Addrs, p.Addr())
			}
		}
		out = append(out, x)
	}
	return out, nil
}

// DefaultRouteInterface reads /proc/net/route for the interface of the
// IPv4 default route.
func DefaultRouteInterface(e *Host) (string, error) {
	b, err := e.Root.ReadFile("/proc/net/route")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// Iface Destination Gateway Flags ...; destination 00000000 with mask 00000000 is default.
		if len(f) >= 8 && f[1] == "00000000" && f[7] == "00000000" {
			return f[0], nil
		}
	}
	return "", errors.New("no IPv4 default route")
}

// VirtualBoxNAT is the address VirtualBox's NAT gives every VM: identical
// on all nodes, so it can never be a node's cluster address.
var VirtualBoxNAT = netip.MustParseAddr("10.0.2.15")

// AddressChoice is the detected advertise address and why it was chosen.
type AddressChoice struct {
	Addr netip.Addr
	Note string
}

// AdvertiseAddressError lists the candidates when kubestrap cannot choose.
type AdvertiseAddressError struct {
	Candidates []string
}

func (e *AdvertiseAddressError) Error() string {
	return fmt.Sprintf("the default route uses the VirtualBox NAT address %s, which every VM shares, and several other "+
		"private addresses exist (%s): choose one with --apiserver-advertise-address",
		VirtualBoxNAT, strings.Join(e.Candidates, ", "))
}

// ChooseAdvertiseAddress picks the address the API server advertises: the
// IPv4 address of the default-route interface, unless that is the Vagrant
// NAT address 10.0.2.15, in which case the single other private IPv4
// address is used (host-only/private network), and several are an error.
func ChooseAdvertiseAddress(defaultIface string, ifs []Interface) (AddressChoice, error) {
	var def netip.Addr
	var others []string
	var other netip.Addr
	for _, i := range ifs {
		if IgnoredInterface(i.Name) {
			continue
		}
		for _, a := range i.Addrs {
			if !a.Is4() || a.IsLoopback() || a.IsLinkLocalUnicast() {
				continue
			}
			if i.Name == defaultIface && !def.IsValid() {
				def = a
			} else if a.IsPrivate() && a != VirtualBoxNAT {
				others = append(others, a.String()+" ("+i.Name+")")
				other = a
			}
		}
	}
	switch {
	case !def.IsValid():
		if len(others) == 1 {
			return AddressChoice{Addr: other, Note: "no default route; using the only private address"}, nil
		}
		return AddressChoice{}, errors.New("no IPv4 address on a default-route interface: pass --apiserver-advertise-address")
	case def != VirtualBoxNAT:
		return AddressChoice{Addr: def, Note: "address of the default-route interface " + defaultIface}, nil
	case len(others) == 1:
		return AddressChoice{Addr: other, Note: fmt.Sprintf("the default route uses the VirtualBox NAT address %s, "+
			"which every VM shares; using %s instead", VirtualBoxNAT, others[0])}, nil
	case len(others) > 1:
		return AddressChoice{}, &AdvertiseAddressError{Candidates: others}
	}
	return AddressChoice{Addr: def, Note: fmt.Sprintf("only the VirtualBox NAT address %s exists: other nodes "+
		"cannot reach it; add a private network to the VM for a multi-node cluster", VirtualBoxNAT)}, nil
}

// IgnoredInterface skips interfaces that container runtimes and CNIs
// create: their addresses are never a node's address.
func IgnoredInterface(name string) bool {
	for _, p := range []string{"lo", "docker", "cni", "flannel", "veth", "virbr", "kube-", "br-", "cali", "tunl", "vxlan"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// DetectAdvertiseAddress runs ChooseAdvertiseAddress on the host's data.
func DetectAdvertiseAddress(e *Host) (AddressChoice, error) {
	def, _ := DefaultRouteInterface(e)
	ifs, err := e.Interfaces()
	if err != nil {
		return AddressChoice{}, fmt.Errorf("list network interfaces: %w", err)
	}
	return ChooseAdvertiseAddress(def, ifs)
}
