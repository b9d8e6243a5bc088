package cleanup_test

import (
	"net/netip"
	"os"
	"reflect"
	"testing"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/node"
)

// ipvsFixture has kube-proxy's ClusterIP 10.96.0.1:443 with a real server,
// keepalived's API VIP 192.168.56.100:6443, a firewall-mark service, an
// external IP on kube-ipvs0 and a ClusterIP of an IPv6 service CIDR.
const ipvsFixture = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A600001:01BB rr
  -> 0A000002:1A0A      Masq    1      0          0
TCP  C0A83864:192B rr persistent 50
  -> C0A8380A:192B      Route   1      0          0
FWM  00000064 rr
  -> 0A000002:1A0A      Masq    1      0          0
UDP  CB007105:0035 rr
SCTP [fd00:0000:0000:0000:0000:0000:0000:000a]:0BB8 rr
`

func TestKubeProxyIPVSServices(t *testing.T) {
	root := node.Root(t.TempDir())
	if svcs, ok, err := cleanup.ReadIPVSServices(root); svcs != nil || ok || err != nil {
		t.Fatalf("no ip_vs: %v %v %v", svcs, ok, err)
	}
	write(t, root, cleanup.IPVSFile)
	if err := os.WriteFile(root.Path(cleanup.IPVSFile), []byte(ipvsFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	all, ok, err := cleanup.ReadIPVSServices(root)
	if err != nil || !ok || len(all) != 4 {
		t.Fatalf("%v %v %v", all, ok, err)
	}
	v4 := []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}
	got := cleanup.KubeProxyServices(all, v4, nil)
	if len(got) != 1 || !reflect.DeepEqual(got[0].DeleteArgs(), []string{"-D", "-t", "10.96.0.1:443"}) {
		t.Fatalf("kube-proxy's: %v, want only TCP 10.96.0.1:443 (not the VIP nor the FWM service)", got)
	}
	dual := append(v4, netip.MustParsePrefix("fd00::/108"))
	got = cleanup.KubeProxyServices(all, dual, []netip.Addr{netip.MustParseAddr("203.0.113.5")})
	var args [][]string
	for _, s := range got {
		args = append(args, s.DeleteArgs())
	}
	want := [][]string{{"-D", "-t", "10.96.0.1:443"}, {"-D", "-u", "203.0.113.5:53"}, {"-D", "--sctp-service", "[fd00::a]:3000"}}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("with kube-ipvs0's address and dual stack: %q, want %q", args, want)
	}
}

func TestParseServiceCIDRs(t *testing.T) {
	got, err := cleanup.ParseServiceCIDRs("10.96.0.0/12, fd00::/108")
	if err != nil || len(got) != 2 || got[1].String() != "fd00::/108" {
		t.Errorf("%v %v", got, err)
	}
	if _, err := cleanup.ParseServiceCIDRs("10.96.0.0"); err == nil {
		t.Error("no prefix length: no error")
	}
}

func TestLinkAddrs(t *testing.T) {
	addrs, err := node.LinkAddrs("lo")
	if err != nil {
		t.Fatalf("netlink: %v", err)
	}
	if len(addrs) == 0 || !addrs[0].IsLoopback() {
		t.Errorf("lo: %v, want its loopback address", addrs)
	}
	if addrs, err := node.LinkAddrs("kstr-none0"); err != nil || len(addrs) != 0 {
		t.Errorf("missing link: %v %v, want none and no error", addrs, err)
	}
}
