package etcd

import (
	"fmt"
	"strings"
)

// tally counts the voting members; learners neither vote nor count.
type tally struct {
	voters, healthy int
	unhealthy       []string
}

func count(members []Member) tally {
	var t tally
	for _, m := range members {
		if m.IsLearner {
			continue
		}
		t.voters++
		if m.Healthy {
			t.healthy++
		} else {
			t.unhealthy = append(t.unhealthy, m.String())
		}
	}
	return t
}

// quorum is the raft majority of n voters.
func quorum(n int) int { return n/2 + 1 }

const deadMemberFix = "bring them back, or remove the dead member first " +
	"(`kubestrap reset` on its node, or `etcdctl member remove ID` with an ID from `kubestrap etcd members`)"

// CheckAddQuorum refuses a new member that, once promoted, would make a
// cluster with unhealthy members depend on it: N voters become N+1, which
// need floor((N+1)/2)+1 healthy ones, and the newcomer cannot be counted
// before it has run. A fully healthy cluster is never refused, since the
// newcomer only becomes a voter after catching up.
func CheckAddQuorum(members []Member) error {
	t := count(members)
	if t.voters == 0 {
		return fmt.Errorf("%w: the etcd cluster lists no voting members", ErrWouldLoseQuorum)
	}
	need := quorum(t.voters + 1)
	if len(t.unhealthy) == 0 || t.healthy >= need {
		return nil
	}
	return fmt.Errorf("%w: adding a member makes %d voting members, which need %d healthy for quorum, "+
		"but only %d are healthy (unhealthy: %s); %s, then join again",
		ErrWouldLoseQuorum, t.voters+1, need, t.healthy, strings.Join(t.unhealthy, ", "), deadMemberFix)
}

// CheckRemoveQuorum refuses removing a voting member when the cluster has
// no quorum now (the removal could not even be committed) or would not
// have one afterwards. Learners and unknown ids never affect quorum. The
// only voting member yields ErrLastMember.
func CheckRemoveQuorum(members []Member, removing uint64) error {
	gone, ok := findByID(members, removing)
	if !ok || gone.IsLearner {
		return nil
	}
	t := count(members)
	if t.voters == 1 {
		return fmt.Errorf("%w: %s is the only voting member", ErrLastMember, gone)
	}
	if t.healthy < quorum(t.voters) {
		return fmt.Errorf("%w: the cluster has no quorum now: %d of %d voting members healthy, %d needed "+
			"(unhealthy: %s); %s", ErrWouldLoseQuorum, t.healthy, t.voters, quorum(t.voters),
			strings.Join(t.unhealthy, ", "), deadMemberFix)
	}
	left := count(without(members, removing))
	if left.healthy < quorum(left.voters) {
		return fmt.Errorf("%w: removing %s leaves %d voting members of which %d are healthy, below the quorum of %d "+
			"(unhealthy: %s); %s", ErrWouldLoseQuorum, gone, left.voters, left.healthy, quorum(left.voters),
			strings.Join(left.unhealthy, ", "), deadMemberFix)
	}
	return nil
}

func findByID(members []Member, id uint64) (Member, bool) {
	for _, m := range members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}
