package cleanup

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kubestrap/kubestrap/node"
)

// IPVSService is one TCP, UDP or SCTP virtual service of IPVS. (Firewall
// mark services have no address; kube-proxy makes none.)
type IPVSService struct {
	// Protocol is "TCP", "UDP" or "SCTP", as /proc/net/ip_vs names it.
	Protocol string
	Addr     netip.AddrPort
}

var ipvsadmServiceFlag = map[string]string{"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}

// DeleteArgs are the ipvsadm arguments that delete this service alone,
// such as -D -t 10.96.0.1:443 (an IPv6 address in brackets).
func (s IPVSService) DeleteArgs() []string {
	return []string{"-D", ipvsadmServiceFlag[s.Protocol], s.Addr.String()}
}

func (s IPVSService) String() string { return s.Protocol + " " + s.Addr.String() }

// ReadIPVSServices returns the TCP, UDP and SCTP virtual services in
// IPVSFile under root; ok is false when the file does not exist (no ip_vs
// module).
func ReadIPVSServices(root node.Root) (svcs []IPVSService, ok bool, err error) {
	b, err := root.ReadFile(IPVSFile)
	if err != nil {
		if !root.Exists(IPVSFile) {
			return nil, false, nil
		}
		return nil, true, err
	}
	svcs, err = ParseIPVS(string(b))
	return svcs, true, err
}

// ParseIPVS parses /proc/net/ip_vs: a virtual service line is
// "TCP  0A600001:01BB rr" (address and port in hex, an IPv6 address as
// [2001:0db8:...:0001]); real servers ("  -> ...") and firewall mark
// services ("FWM  00000064 rr") are skipped.
func ParseIPVS(data string) ([]IPVSService, error) {
	var out []IPVSService
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || ipvsadmServiceFlag[f[0]] == "" {
			continue
		}
		ap, err := parseIPVSAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", IPVSFile, line, err)
		}
		out = append(out, IPVSService{Protocol: f[0], Addr: ap})
	}
	return out, nil
}

// parseIPVSAddr parses "0A600001:01BB" or "[2001:0db8:...]:01BB".
func parseIPVSAddr(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, errors.New("no port")
	}
	port, err := strconv.ParseUint(s[i+1:], 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port: %w", err)
	}
	host := s[:i]
	var addr netip.Addr
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		addr, err = netip.ParseAddr(host[1 : len(host)-1])
	} else {
		addr, err = parseHexIPv4(host)
	}
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// parseHexIPv4 parses an IPv4 address the kernel prints as %08X of the
// address in host order, so the first byte is the most significant.
func parseHexIPv4(s string) (netip.Addr, error) {
	if len(s) != 8 {
		return netip.Addr{}, fmt.Errorf("address %q: want 8 hex digits", s)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address: %w", err)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
}

// KubeProxyServices returns the services of svcs that are kube-proxy's:
// those on an address in one of the service CIDRs (ClusterIPs) or on one of
// addrs, the addresses kube-proxy put on its dummy link kube-ipvs0
// (external and load-balancer IPs). The rest, such as a keepalived virtual
// server for the API server's VIP, belong to someone else and stay.
func KubeProxyServices(svcs []IPVSService, serviceCIDRs []netip.Prefix, addrs []netip.Addr) []IPVSService {
	var out []IPVSService
	for _, s := range svcs {
		if ipvsOwned(s.Addr.Addr(), serviceCIDRs, addrs) {
			out = append(out, s)
		}
	}
	return out
}

func ipvsOwned(a netip.Addr, cidrs []netip.Prefix, addrs []netip.Addr) bool {
	a = a.Unmap()
	for _, p := range cidrs {
		if p.Contains(a) {
			return true
		}
	}
	for _, b := range addrs {
		if b.Unmap() == a {
			return true
		}
	}
	return false
}

// ParseServiceCIDRs parses a serviceSubnet setting: one CIDR, or an IPv4
// and an IPv6 one separated by a comma (dual stack).
func ParseServiceCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("service subnet: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// KubeProxyLink is kube-proxy's dummy link in IPVS mode, which holds every
// address it balances besides the ClusterIPs' own.
const KubeProxyLink = "kube-ipvs0"
