package join

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/preflight"
)

// MACAnnotation holds hashes of a node's MAC addresses: the Node object
// has no field for them, and a cloned VM may keep its template's MAC.
const MACAnnotation = "kubestrap.io/mac-hashes"

// Identity is what makes a host unique; clones share parts of it.
type Identity struct {
	MachineID   string
	ProductUUID string // empty when missing or a placeholder
	MACHashes   []string
}

// HostIdentity reads the identity of the host e stands for.
func HostIdentity(e *node.Host) (Identity, error) {
	ifs, err := e.Interfaces()
	if err != nil {
		return Identity{}, err
	}
	return LocalIdentity(e, ifs, HostMACs())
}

// LocalIdentity reads this host's identity.
func LocalIdentity(e *node.Host, ifs []node.Interface, macs map[string]string) (Identity, error) {
	id := Identity{}
	mid, err := e.Root.ReadString("/etc/machine-id")
	if err != nil || mid == "" {
		return id, fmt.Errorf("read /etc/machine-id: %v (run `systemd-machine-id-setup`)", err)
	}
	id.MachineID = mid
	if u, err := e.Root.ReadString("/sys/class/dmi/id/product_uuid"); err == nil && !preflight.IsPlaceholderUUID(u) {
		id.ProductUUID = strings.ToLower(u)
	}
	for _, i := range ifs {
		if m := macs[i.Name]; m != "" && !node.IgnoredInterface(i.Name) {
			id.MACHashes = append(id.MACHashes, HashMAC(m))
		}
	}
	sort.Strings(id.MACHashes)
	return id, nil
}

// HostMACs maps interface names to MAC addresses.
func HostMACs() map[string]string {
	out := map[string]string{}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if len(i.HardwareAddr) > 0 {
			out[i.Name] = i.HardwareAddr.String()
		}
	}
	return out
}

// HashMAC is a short, stable hash of a MAC address.
func HashMAC(mac string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(mac)))
	return hex.EncodeToString(sum[:8])
}

// CollisionError names the node this host collides with and the fix.
type CollisionError struct {
	Node, What, Value, Fix string
}

func (e *CollisionError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("refusing to join: %s already has this host's %s: %s", e.Node, e.What, e.Fix)
	}
	return fmt.Sprintf("refusing to join: node %s already has this host's %s (%s): %s", e.Node, e.What, e.Value, e.Fix)
}

const cloneFix = "this host looks like a clone of it; give it its own identity: " +
	"`rm -f /etc/machine-id && systemd-machine-id-setup`, and a new VM UUID and MAC address in the hypervisor"

// CheckIdentity compares this host with the cluster's nodes. It returns
// the node that is this very host (same name and machine-id: an earlier
// join), or an error naming a node it collides with.
func CheckIdentity(name string, id Identity, nodes []corev1.Node) (*corev1.Node, error) {
	var self *corev1.Node
	for i := range nodes {
		n := &nodes[i]
		info := n.Status.NodeInfo
		sameMachine := info.MachineID != "" && info.MachineID == id.MachineID
		switch {
		case n.Name == name && sameMachine:
			self = n
		case n.Name == name:
			return nil, &CollisionError{Node: n.Name, What: "name", Value: name,
				Fix: "another machine (machine-id " + info.MachineID + ") uses this name; pass --node-name, or remove the " +
					"old node with `kubectl delete node " + name + "` if it is gone"}
		case sameMachine:
			return nil, &CollisionError{Node: n.Name, What: "machine-id", Value: id.MachineID, Fix: cloneFix}
		case id.ProductUUID != "" && strings.EqualFold(info.SystemUUID, id.ProductUUID):
			return nil, &CollisionError{Node: n.Name, What: "product_uuid", Value: id.ProductUUID, Fix: cloneFix}
		default:
			if h := sharedMAC(id.MACHashes, n.Annotations[MACAnnotation]); h != "" {
				return nil, &CollisionError{Node: n.Name, What: "MAC address (hash)", Value: h, Fix: cloneFix}
			}
		}
	}
	return self, nil
}

func sharedMAC(mine []string, annotation string) string {
	theirs := map[string]bool{}
	for _, h := range strings.Split(annotation, ",") {
		theirs[h] = true
	}
	for _, h := range mine {
		if theirs[h] {
			return h
		}
	}
	return ""
}

// RouteSourceIP is the local address this host uses to reach endpoint
// (host:port): the right node IP for a worker even when its default route
// is a NAT interface (Vagrant's 10.0.2.15). No packet is sent.
func RouteSourceIP(endpoint string) (string, error) {
	c, err := net.Dial("udp", endpoint)
	if err != nil {
		return "", fmt.Errorf("no route to %s: %w", endpoint, err)
	}
	defer func() { _ = c.Close() }()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// RegisterHost claims this host's identity (a no-op when identity-check
// already did), so that a later clone of it is refused; on a cluster made
// by an older kubestrap it adds the registry entries instead.
func RegisterHost(ctx context.Context, c kubernetes.Interface, e *node.Host, node string) error {
	id, err := HostIdentity(e)
	if err != nil {
		return err
	}
	return Record(ctx, c, node, id)
}
