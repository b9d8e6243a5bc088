package node

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
)

// Links is the host's network links as a reset sees them; Netlink is the
// real one, tests fake it.
type Links interface {
	Exists(name string) (bool, error)
	Delete(name string) error
}

// Netlink is Links over rtnetlink.
type Netlink struct{}

var _ Links = Netlink{}

// Exists implements Links.
func (Netlink) Exists(name string) (bool, error) {
	_, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return false, nil
	}
	return err == nil, err
}

// Delete implements Links.
func (Netlink) Delete(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	return netlink.LinkDel(l)
}

// LinkAddrs returns the IPv4 and IPv6 addresses of the named link; a link
// that does not exist (kube-proxy ran in iptables mode, or reset deleted
// it) has none.
func LinkAddrs(name string) ([]netip.Addr, error) {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	list, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", name, err)
	}
	var out []netip.Addr
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

// IPTables is the part of go-iptables a reset uses; *iptables.IPTables has
// it, tests fake it.
type IPTables interface {
	ListChains(table string) ([]string, error)
	// List returns a chain in iptables -S form: its policy or -N line
	// first, then one "-A CHAIN ..." line per rule.
	List(table, chain string) ([]string, error)
	// Delete deletes the first rule of chain that matches rulespec (the
	// rule's arguments after the chain name, as iptables -D takes them).
	Delete(table, chain string, rulespec ...string) error
	ClearChain(table, chain string) error
	DeleteChain(table, chain string) error
}

var _ IPTables = (*iptables.IPTables)(nil)

// OpenIPTables opens the host's iptables (or ip6tables); an error means the
// host has no such command.
func OpenIPTables(ipv6 bool) (IPTables, error) {
	if ipv6 {
		return iptables.NewWithProtocol(iptables.ProtocolIPv6)
	}
	return iptables.NewWithProtocol(iptables.ProtocolIPv4)
}
