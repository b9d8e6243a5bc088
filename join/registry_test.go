package join

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestIdentityRegistry(t *testing.T) {
	ctx := context.Background()
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewSimpleClientset(reg)
	w0 := Identity{MachineID: "m0", ProductUUID: "u0", MACHashes: []string{"h0", "h1"}}
	if err := Register(ctx, c, "w0", w0); err != nil {
		t.Fatal(err)
	}
	data, ok, err := ReadRegistry(ctx, c)
	if err != nil || !ok {
		t.Fatalf("read: %v %v", ok, err)
	}
	for k, v := range data {
		for _, secret := range []string{"m0", "u0", "h0", "h1", "w0"} {
			if k != saltKey && (strings.Contains(k, secret) || strings.Contains(v, secret)) {
				t.Errorf("registry leaks %q in %s=%s", secret, k, v)
			}
		}
	}
	tests := []struct {
		name, node string
		id         Identity
		want       string
	}{
		{"the node itself re-joining", "w0", w0, ""},
		{"another machine", "w1", Identity{MachineID: "m1", MACHashes: []string{"h2"}}, ""},
		{"cloned machine-id", "w1", Identity{MachineID: "m0"}, "machine-id (m0)"},
		{"cloned product_uuid", "w1", Identity{MachineID: "m1", ProductUUID: "u0"}, "product_uuid (u0)"},
		{"second of two MACs cloned", "w1", Identity{MachineID: "m1", MACHashes: []string{"h9", "h1"}}, "MAC address (hash h1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRegistry(data, tt.node, tt.id)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	// Another cluster's registry (another salt) does not recognise w0.
	other, _ := NewRegistry()
	if err := CheckRegistry(map[string]string{saltKey: other.Data[saltKey]}, "w1", Identity{MachineID: "m0"}); err != nil {
		t.Errorf("empty registry: %v", err)
	}
	if _, ok, _ := ReadRegistry(ctx, fake.NewSimpleClientset()); ok {
		t.Error("a cluster without a registry reported one")
	}
	cm, _ := c.CoreV1().ConfigMaps("kube-system").Get(ctx, IdentityRegistry, metav1.GetOptions{})
	if cm.Data[saltKey] != reg.Data[saltKey] {
		t.Error("register changed the salt")
	}
}

func TestRegistryForbiddenUnderKubeadmRBACCountsAsNone(t *testing.T) {
	c := fake.NewSimpleClientset()
	c.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, IdentityRegistry,
			errors.New("RBAC: access denied"))
	})
	data, ok, err := ReadRegistry(context.Background(), c)
	if err != nil || ok || data != nil {
		t.Fatalf("a registry the token may not read: %v %v %v; want none, no error", data, ok, err)
	}
}
