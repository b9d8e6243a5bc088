package addons

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestClaimFirstPodCIDR(t *testing.T) {
	ctx := context.Background()
	node := func(cidr string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1"}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
	}
	for _, tc := range []struct {
		name, subnet, have, want string
		registered               bool
	}{
		{"free: the first /24", "10.244.0.0/16", "", "10.244.0.0/24", true},
		{"an unaligned subnet is masked", "10.32.7.0/12", "", "10.32.0.0/24", true},
		{"kcm was first", "10.244.0.0/16", "10.244.3.0/24", "10.244.3.0/24", true},
		{"smaller than a node's share: kcm decides", "10.244.0.0/25", "", "", true},
		{"IPv6: kcm decides", "fd00:10:244::/56", "", "", true},
		{"not registered yet", "10.244.0.0/16", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientset()
			if tc.registered {
				_, _ = c.CoreV1().Nodes().Create(ctx, node(tc.have), metav1.CreateOptions{})
			}
			got, err := ClaimFirstPodCIDR(ctx, c, "cp-1", tc.subnet)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if !tc.registered {
				return
			}
			n, _ := c.CoreV1().Nodes().Get(ctx, "cp-1", metav1.GetOptions{})
			want := tc.want
			if want == "" {
				want = tc.have
			}
			if n.Spec.PodCIDR != want || (want != "" && tc.have == "" && (len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != want)) {
				t.Errorf("node podCIDR %q %v, want %q", n.Spec.PodCIDR, n.Spec.PodCIDRs, want)
			}
		})
	}
}
