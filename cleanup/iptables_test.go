package cleanup_test

import (
	"reflect"
	"testing"

	"github.com/kubestrap/kubestrap/cleanup"
	"github.com/kubestrap/kubestrap/cleanup/cleanuptest"
)

// firewalld inserts a rule at the top of INPUT, and kube-proxy deletes one
// of its jumps, between reset's List and its deletes: the jumps go by their
// spec, the others' rules stay, and the jump already gone is no error.
func TestRemoveChainsChainEditedMeanwhile(t *testing.T) {
	ipt := &cleanuptest.IPTables{Rules: map[string]map[string][]string{"filter": {
		"INPUT": {
			`-A INPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
			"-A INPUT -j ACCEPT",
			"-A INPUT -m conntrack --ctstate NEW -j KUBE-PROXY-FIREWALL",
			`-A INPUT -m comment --comment "flanneld \"forward\"" -j FLANNEL-FWD`,
			"-A INPUT -j KUBE-FIREWALL",
		},
		"KUBE-SERVICES": nil, "KUBE-PROXY-FIREWALL": nil, "FLANNEL-FWD": nil, "KUBE-FIREWALL": nil,
	}}}
	edited := false
	ipt.AfterList = func(table, chain string) {
		if chain != "INPUT" || edited {
			return
		}
		edited = true
		r := ipt.Rules[table][chain]
		r = append([]string{"-A INPUT -i lo -j ACCEPT"}, r...)
		ipt.Rules[table][chain] = append(r[:4:4], r[5:]...) // kube-proxy's KUBE-PROXY-FIREWALL jump
	}
	res, err := cleanup.RemoveChains(ipt, []string{"filter"}, []string{"KUBE-", "FLANNEL"}, false)
	if err != nil {
		t.Fatalf("%v (calls %q)", err, ipt.Calls)
	}
	want := []string{"-A INPUT -i lo -j ACCEPT", "-A INPUT -j ACCEPT"}
	if got := ipt.Rules["filter"]["INPUT"]; !reflect.DeepEqual(got, want) {
		t.Errorf("INPUT is %q, want %q (calls %q)", got, want, ipt.Calls)
	}
	if len(res) != 1 || res[0].Jumps != 3 || len(res[0].Chains) != 4 {
		t.Errorf("removed %+v, want 4 chains and the 3 jumps that were still there", res)
	}
}
