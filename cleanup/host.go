package cleanup

import (
	"io"
	"net/netip"
	"syscall"
)

// Host is how a reset reaches the node beyond its files: mounts, the
// container runtime, network links and iptables. Tests replace any field.
type Host struct {
	// Unmount is syscall.Unmount.
	Unmount func(target string, flags int) error
	// CRI connects to the runtime's CRI endpoint; the caller closes it.
	CRI   func(endpoint string) (Runtime, io.Closer, error)
	Links Links
	// IPTables opens iptables, or ip6tables; an error means the host has
	// no such command.
	IPTables func(ipv6 bool) (IPTables, error)
	// LinkAddrs lists a link's addresses (none when it does not exist):
	// those of kube-ipvs0 tell kube-proxy's IPVS services from others'.
	LinkAddrs func(name string) ([]netip.Addr, error)
	// NFTables is the kernel's nftables, where iptables-nft keeps tables.
	NFTables NFTables
}

// RealHost is the running host.
func RealHost() Host {
	return Host{Unmount: syscall.Unmount, CRI: DialCRI, Links: Netlink{}, IPTables: OpenIPTables,
		LinkAddrs: LinkAddrs, NFTables: Netfilter{}}
}
