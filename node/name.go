package node

import (
	"fmt"
	"strings"
)

// DefaultName is the Node name of a host that was given none: its host
// name in lower case, as the kubelet registers it (kubeadm does the same).
// Every command defaults the name here, so that init, join, reset and
// status agree on it.
func DefaultName(hostname func() (string, error)) (string, error) {
	h, err := hostname()
	if err != nil {
		return "", fmt.Errorf("read host name for the node name: %w (pass --node-name)", err)
	}
	return strings.ToLower(strings.TrimSpace(h)), nil
}
