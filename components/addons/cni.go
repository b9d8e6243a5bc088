package addons

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/kubestrap/kubestrap/node"
)

// CNIPlugins are the standard plugins kubestrap's pod network uses.
var CNIPlugins = []string{"bridge", "host-local", "loopback", "portmap"}

// ConflistName is kubestrap's CNI network config; "10-" sorts it before
// configs of other networks an image may ship.
const ConflistName = "10-kubestrap.conflist"

// VXLANOverhead is what flannel's vxlan encapsulation takes from the MTU.
const VXLANOverhead = 50

// EnsureCNIPlugins copies the bundled plugins into the runtime's CNI bin
// dir when any is missing there (containerd.io on CentOS ships none;
// Debian's containernetworking-plugins has them) and lists what it copied.
func EnsureCNIPlugins(binDir, bundleDir string) ([]string, error) {
	var installed []string
	for _, p := range CNIPlugins {
		dst := filepath.Join(binDir, p)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(bundleDir, p))
		if err != nil {
			return installed, fmt.Errorf("CNI plugin %s is missing from %s and from the bundle: %w", p, binDir, err)
		}
		if err := node.WriteFileAtomic(dst, data, 0o755); err != nil {
			return installed, err
		}
		installed = append(installed, p)
	}
	return installed, nil
}

// Conflist is the node's pod network: a cni0 bridge with host-local
// addresses from the node's podCIDR, routed between nodes by flannel's
// vxlan (which also masquerades, hence ipMasq false), and portmap for
// hostPort. containerd sets up loopback itself with the loopback plugin.
func Conflist(podCIDR string, mtu int) ([]byte, error) {
	if _, _, err := net.ParseCIDR(podCIDR); err != nil {
		return nil, fmt.Errorf("node podCIDR %q: %w", podCIDR, err)
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "kubestrap",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true, "mtu": mtu,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": podCIDR}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// WriteConflist writes the config atomically; an unchanged file is left
// alone so the runtime does not reload it.
func WriteConflist(confDir string, data []byte) (bool, error) {
	path := filepath.Join(confDir, ConflistName)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return false, nil
	}
	return true, node.WriteFileAtomic(path, data, 0o644)
}

// PodMTU is the MTU of the interface holding nodeIP minus the vxlan
// overhead; 1450 when the interface cannot be found.
func PodMTU(nodeIP string) int {
	ifs, err := net.Interfaces()
	if err != nil {
		return 1500 - VXLANOverhead
	}
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == nodeIP {
				return i.MTU - VXLANOverhead
			}
		}
	}
	return 1500 - VXLANOverhead
}
