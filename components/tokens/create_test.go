package tokens

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubestrap/kubestrap/config"
)

// An existing token id is never silently replaced: its secret, TTL and
// groups stay as they were.
func TestCreateRefusesExistingID(t *testing.T) {
	c := fake.NewSimpleClientset()
	now := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	first := config.BootstrapToken{Token: "abcdef.0123456789abcdef", TTL: &metav1.Duration{Duration: time.Hour},
		Usages: config.DefaultTokenUsages, Groups: []string{config.DefaultNodeTokenGroup}}
	if err := Create(ctx, c, first, now); err != nil {
		t.Fatal(err)
	}
	other := first
	other.Token = "abcdef.ffffffffffffffff"
	other.TTL = &metav1.Duration{}
	if err := Create(ctx, c, other, now.Add(time.Minute)); !errors.Is(err, ErrExists) {
		t.Fatalf("second create with the same id: %v", err)
	}
	s, _ := c.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-abcdef", metav1.GetOptions{})
	if string(s.Data["token-secret"]) != "0123456789abcdef" || string(s.Data["expiration"]) != "2026-11-22T05:00:00Z" {
		t.Errorf("token changed: %v", s.Data)
	}
	// init's Ensure converges on the same token and refuses another secret.
	if existed, err := Ensure(ctx, c, first, now); err != nil || !existed {
		t.Errorf("ensure same token: %v %v", existed, err)
	}
	if _, err := Ensure(ctx, c, other, now); !errors.Is(err, ErrExists) {
		t.Errorf("ensure with another secret: %v", err)
	}
	tok, ok, err := FindByDescription(ctx, c, "", now)
	if err != nil || !ok || tok != first.Token {
		t.Errorf("find: %q %v %v", tok, ok, err)
	}
	if _, ok, _ := FindByDescription(ctx, c, "", now.Add(2*time.Hour)); ok {
		t.Error("an expired token was offered for reuse")
	}
}
