package node

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Host is the node kubestrap runs on, as every package reaches it: its
// files through an injectable root, its commands with timeouts, the
// container runtime and its addresses. Tests replace any field; Real is
// the running host.
type Host struct {
	Root       Root
	UID        func() int
	NumCPU     func() int
	Hostname   func() (string, error)
	LookupHost func(string) ([]string, error)
	LookPath   func(string) (string, error)
	Listen     func(network, addr string) (net.Listener, error)
	// Run runs a command and returns its combined output; the real one
	// (commandRunner) bounds it by CommandTimeout and fails with a
	// *CommandError.
	Run func(name string, args ...string) ([]byte, error)
	// CRIVersion asks the runtime at endpoint for its name and version.
	CRIVersion func(ctx context.Context, endpoint string) (name, version string, err error)
	// Interfaces lists the host's interfaces and their addresses.
	Interfaces func() ([]Interface, error)

	// What a reset reaches beyond the files:
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

// Real is the running host.
func Real() *Host {
	return &Host{
		Root:       Root("/"),
		UID:        os.Geteuid,
		NumCPU:     runtime.NumCPU,
		Hostname:   os.Hostname,
		LookupHost: net.LookupHost,
		LookPath:   exec.LookPath,
		Listen:     net.Listen,
		Run:        commandRunner(CommandTimeout),
		CRIVersion: criVersion,
		Interfaces: hostInterfaces,
		Unmount:    syscall.Unmount,
		CRI:        DialCRI,
		Links:      Netlink{},
		IPTables:   OpenIPTables,
		LinkAddrs:  LinkAddrs,
		NFTables:   Netfilter{},
	}
}

// criVersion makes a CRI Version call over the runtime's unix socket.
func criVersion(ctx context.Context, endpoint string) (string, string, error) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", "", err
	}
	defer func() { _ = conn.Close() }()
	resp, err := runtimeapi.NewRuntimeServiceClient(conn).Version(ctx, &runtimeapi.VersionRequest{}, grpc.WaitForReady(false))
	if err != nil {
		return "", "", err
	}
	return resp.RuntimeName, resp.RuntimeVersion, nil
}
