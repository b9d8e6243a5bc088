package cleanup

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kubestrap/kubestrap/node"
)

// DeleteLinks deletes the named links that exist and returns their names
// (in a dry run, the ones that would go).
func DeleteLinks(l node.Links, names []string, dryRun bool) ([]string, error) {
	var gone []string
	var errs []error
	for _, n := range names {
		ok, err := l.Exists(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("link %s: %w", n, err))
			continue
		}
		if !ok {
			continue
		}
		if !dryRun {
			if err := l.Delete(n); err != nil {
				errs = append(errs, fmt.Errorf("delete link %s: %w", n, err))
				continue
			}
		}
		gone = append(gone, n)
	}
	return gone, errors.Join(errs...)
}

// ChainsRemoved is what RemoveChains removed from one table.
type ChainsRemoved struct {
	Table  string
	Chains []string
	// Jumps counts the rules of built-in chains that jumped to them.
	Jumps int
}

func (c ChainsRemoved) String() string {
	return fmt.Sprintf("%s table: chains %s and %d jump(s) to them", c.Table, strings.Join(c.Chains, " "), c.Jumps)
}

var builtinChains = map[string]bool{"INPUT": true, "OUTPUT": true, "FORWARD": true, "PREROUTING": true, "POSTROUTING": true}

// RemoveChains removes, in each table, the chains whose names start with
// one of prefixes: first the rules of built-in chains that jump to them,
// then every such chain is flushed (they jump to each other), then each is
// deleted. It returns per table what went (or in a dry run would go).
func RemoveChains(ipt node.IPTables, tables, prefixes []string, dryRun bool) ([]ChainsRemoved, error) {
	ours := func(chain string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(chain, p) {
				return true
			}
		}
		return false
	}
	var out []ChainsRemoved
	var errs []error
	for _, table := range tables {
		chains, err := ipt.ListChains(table)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s chains: %w", table, err))
			continue
		}
		res := ChainsRemoved{Table: table}
		for _, c := range chains {
			if !builtinChains[c] {
				if ours(c) {
					res.Chains = append(res.Chains, c)
				}
				continue
			}
			n, err := deleteJumps(ipt, table, c, ours, dryRun)
			res.Jumps += n
			errs = append(errs, err)
		}
		if !dryRun {
			for _, c := range res.Chains {
				if err := ipt.ClearChain(table, c); err != nil {
					errs = append(errs, fmt.Errorf("flush %s/%s: %w", table, c, err))
				}
			}
			for _, c := range res.Chains {
				if err := ipt.DeleteChain(table, c); err != nil {
					errs = append(errs, fmt.Errorf("delete %s/%s: %w", table, c, err))
				}
			}
		}
		if len(res.Chains) > 0 || res.Jumps > 0 {
			out = append(out, res)
		}
	}
	return out, errors.Join(errs...)
}

// deleteJumps deletes the rules of a built-in chain whose target (-j or -g)
// is one of ours. It deletes each by its spec, not its number: firewalld or
// Docker may edit the chain between the List and the deletes, and a number
// would then hit someone else's rule.
func deleteJumps(ipt node.IPTables, table, chain string, ours func(string) bool, dryRun bool) (int, error) {
	rules, err := ipt.List(table, chain)
	if err != nil {
		return 0, fmt.Errorf("list %s/%s: %w", table, chain, err)
	}
	var specs [][]string
	for _, r := range rules {
		if spec, ok := ruleSpec(r, chain); ok && jumpsTo(spec, ours) {
			specs = append(specs, spec)
		}
	}
	if dryRun {
		return len(specs), nil
	}
	n := 0
	for _, spec := range specs {
		err := ipt.Delete(table, chain, spec...)
		switch {
		case isNotExist(err):
			// Someone (kube-proxy on its way out) deleted it first.
		case err != nil:
			return n, fmt.Errorf("delete rule %q of %s/%s: %w", strings.Join(spec, " "), table, chain, err)
		default:
			n++
		}
	}
	return n, nil
}

// isNotExist reports an iptables error saying the rule (or the chain it
// names) is not there; *iptables.Error has IsNotExist.
func isNotExist(err error) bool {
	var ne interface{ IsNotExist() bool }
	return errors.As(err, &ne) && ne.IsNotExist()
}

// ruleSpec returns the arguments after the chain name of an iptables -S
// line "-A CHAIN args...", ok false for other lines (the chain's policy).
func ruleSpec(line, chain string) ([]string, bool) {
	f := splitQuoted(line)
	if len(f) < 2 || f[0] != "-A" || f[1] != chain {
		return nil, false
	}
	return f[2:], true
}

func jumpsTo(spec []string, ours func(string) bool) bool {
	for i := 0; i+1 < len(spec); i++ {
		if (spec[i] == "-j" || spec[i] == "-g") && ours(spec[i+1]) {
			return true
		}
	}
	return false
}

// splitQuoted splits an iptables -S line into its arguments. iptables
// quotes an argument with spaces (a comment) in double quotes, escaping "
// and \ inside with a backslash; the quotes go and the escapes are undone,
// so that the argument reaches iptables -D as the rule has it.
func splitQuoted(line string) []string {
	var out []string
	var cur strings.Builder
	inArg, quoted, escaped := false, false, false
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted, inArg = !quoted, true
		case !quoted && (r == ' ' || r == '\t'):
			if inArg {
				out = append(out, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if inArg {
		out = append(out, cur.String())
	}
	return out
}

// IPVSFile lists the kernel's IPVS virtual services when ip_vs is loaded.
const IPVSFile = "/proc/net/ip_vs"

// IPVSServices counts the virtual services in IPVSFile under root; ok is
// false when the file does not exist (no ip_vs module).
func IPVSServices(root node.Root) (n int, ok bool, err error) {
	b, err := root.ReadFile(IPVSFile)
	if err != nil {
		if !root.Exists(IPVSFile) {
			return 0, false, nil
		}
		return 0, true, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch f := strings.Fields(line); {
		case len(f) == 0:
		case f[0] == "TCP", f[0] == "UDP", f[0] == "SCTP", f[0] == "FWM":
			n++
		}
	}
	return n, true, nil
}
