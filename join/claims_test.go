package join

import (
	"context"
	"errors"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestClaimIsCreateOnly(t *testing.T) {
	ctx := context.Background()
	c := fake.NewSimpleClientset()
	id := Identity{MachineID: "m1", ProductUUID: "u1", MACHashes: []string{"h1"}}
	if n, err := Claim(ctx, c, "salt", "w1", id); err != nil || n != 3 {
		t.Fatalf("first claim: %d, %v", n, err)
	}
	// A re-run of w1's join: its own claims, nothing new.
	if n, err := Claim(ctx, c, "salt", "w1", id); err != nil || n != 0 {
		t.Fatalf("re-run: %d, %v", n, err)
	}
	// A clone under another name is refused and changes nothing.
	var ce *CollisionError
	if _, err := Claim(ctx, c, "salt", "w2", Identity{MachineID: "m1"}); !errors.As(err, &ce) ||
		ce.What != "machine-id (m1)" {
		t.Fatalf("clone: %v", err)
	}
	list, _ := c.CoreV1().ConfigMaps(ClaimNamespace).List(ctx, metav1.ListOptions{})
	if len(list.Items) != 3 {
		t.Errorf("claims: %d, want 3", len(list.Items))
	}
	if n, err := Unclaim(ctx, c, "salt", "w2", Identity{MachineID: "m1"}); err != nil || n != 0 {
		t.Errorf("another name's claims removed: %d, %v", n, err)
	}
	if n, err := Unclaim(ctx, c, "salt", "w1", id); err != nil || n != 3 {
		t.Errorf("unclaim: %d, %v", n, err)
	}
	if _, err := Claim(ctx, c, "salt", "w2", Identity{MachineID: "m1"}); err != nil {
		t.Errorf("after w1's reset the host may join as w2: %v", err)
	}
}

// Two clones at the same moment: exactly one wins.
func TestClaimRaceHasOneWinner(t *testing.T) {
	for range 20 {
		c := fake.NewSimpleClientset()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, name := range []string{"a", "b"} {
			wg.Go(func() { _, errs[i] = Claim(context.Background(), c, "salt", name, Identity{MachineID: "same"}) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("both or neither joined: %v, %v", errs[0], errs[1])
		}
	}
}
