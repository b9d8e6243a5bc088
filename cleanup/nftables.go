package cleanup

import (
	"errors"
	"fmt"

	"github.com/kubestrap/kubestrap/node"
)

// RemoveUnusedTables deletes the iptables-nft tables that hold nothing.
// kube-proxy and the kubelet make filter, nat and mangle; once reset has
// removed their chains those stay behind empty, and iptables cannot delete
// a table. A table holding anything (Docker's, firewalld's, an admin's
// rules, a DROP policy) stays. On an iptables-legacy host there are none.
func RemoveUnusedTables(n node.NFTables, dryRun bool) ([]node.NFTable, error) {
	tables, err := n.Tables()
	if err != nil {
		return nil, err
	}
	var gone []node.NFTable
	var errs []error
	for _, t := range tables {
		unused, err := n.Unused(t)
		if err != nil || !unused {
			errs = append(errs, err)
			continue
		}
		if !dryRun {
			if err := n.Delete(t); err != nil {
				errs = append(errs, fmt.Errorf("delete nftables table %s: %w", t, err))
				continue
			}
		}
		gone = append(gone, t)
	}
	return gone, errors.Join(errs...)
}
