package preflight

import (
	"context"
	"net"
	"os"
	"os/exec"
	"runtime"

	"github.com/kubestrap/kubestrap/hostfs"
)

// Env is everything the checks learn from the host. Tests replace any
// field; Host() returns the real one.
type Env struct {
	Root       hostfs.Root
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
}

// Host returns an Env that reads the real host.
func Host() *Env {
	return &Env{
		Root:       hostfs.Root("/"),
		UID:        os.Geteuid,
		NumCPU:     runtime.NumCPU,
		Hostname:   os.Hostname,
		LookupHost: net.LookupHost,
		LookPath:   exec.LookPath,
		Listen:     net.Listen,
		Run:        commandRunner(CommandTimeout),
		CRIVersion: criVersion,
		Interfaces: hostInterfaces,
	}
}

func readDir(path string) ([]string, error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}
