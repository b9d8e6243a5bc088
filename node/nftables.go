package node

import (
	"fmt"
	"slices"

	"github.com/google/nftables"
)

// NFTable is one of the tables iptables-nft keeps in nftables, as
// iptables-save shows it: family ip or ip6, and filter, nat or mangle.
type NFTable struct {
	Family, Name string
}

func (t NFTable) String() string { return t.Family + " " + t.Name }

// NFTables is the part of the kernel's nftables a reset uses; Netfilter is
// the real one, tests fake it.
type NFTables interface {
	// Tables lists the iptables-nft tables that exist.
	Tables() ([]NFTable, error)
	// Unused reports whether t holds nothing: base chains only, each
	// without rules and with policy accept, and no sets.
	Unused(t NFTable) (bool, error)
	Delete(t NFTable) error
}

// Netfilter is NFTables over netlink.
type Netfilter struct{}

var _ NFTables = Netfilter{}

var (
	iptablesTableNames = []string{"filter", "nat", "mangle"}
	families           = map[string]nftables.TableFamily{"ip": nftables.TableFamilyIPv4, "ip6": nftables.TableFamilyIPv6}
)

// Tables implements NFTables.
func (Netfilter) Tables() ([]NFTable, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	var out []NFTable
	for _, fam := range []string{"ip", "ip6"} {
		ts, err := c.ListTablesOfFamily(families[fam])
		if err != nil {
			return nil, fmt.Errorf("list nftables tables: %w", err)
		}
		for _, t := range ts {
			if slices.Contains(iptablesTableNames, t.Name) {
				out = append(out, NFTable{Family: fam, Name: t.Name})
			}
		}
	}
	return out, nil
}

// Unused implements NFTables.
func (Netfilter) Unused(t NFTable) (bool, error) {
	c, err := nftables.New()
	if err != nil {
		return false, err
	}
	table := &nftables.Table{Name: t.Name, Family: families[t.Family]}
	chains, err := c.ListChainsOfTableFamily(table.Family)
	if err != nil {
		return false, err
	}
	for _, ch := range chains {
		if ch.Table.Name != t.Name {
			continue
		}
		if ch.Hooknum == nil || (ch.Policy != nil && *ch.Policy != nftables.ChainPolicyAccept) {
			return false, nil
		}
		rules, err := c.GetRules(table, ch)
		if err != nil || len(rules) > 0 {
			return false, err
		}
	}
	sets, err := c.GetSets(table)
	return err == nil && len(sets) == 0, err
}

// Delete implements NFTables.
func (Netfilter) Delete(t NFTable) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	c.DelTable(&nftables.Table{Name: t.Name, Family: families[t.Family]})
	return c.Flush()
}
