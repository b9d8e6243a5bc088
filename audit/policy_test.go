package audit

import (
	"os"
	"path/filepath"
	"testing"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"sigs.k8s.io/yaml"
)

// The policy never logs a body, and the catch-all rule is last (rules
// match in order, so one after it would never apply).
func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	for i, r := range p.Rules {
		if r.Level == auditv1.LevelRequest || r.Level == auditv1.LevelRequestResponse {
			t.Errorf("rule %d logs bodies (%s)", i, r.Level)
		}
	}
	last := p.Rules[len(p.Rules)-1]
	if last.Level != auditv1.LevelMetadata || len(last.Resources)+len(last.Verbs)+len(last.Users) != 0 {
		t.Errorf("last rule %+v is not the Metadata catch-all", last)
	}
}

func TestWriteDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit-policy.yaml")
	if wrote, err := WriteDefault(path); err != nil || !wrote {
		t.Fatalf("first write: %v %v", wrote, err)
	}
	b, _ := os.ReadFile(path)
	var back auditv1.Policy
	if err := yaml.UnmarshalStrict(b, &back); err != nil || back.Kind != "Policy" || back.APIVersion != "audit.k8s.io/v1" {
		t.Fatalf("written policy does not read back: %v (%s/%s)", err, back.APIVersion, back.Kind)
	}
	if wrote, err := WriteDefault(path); err != nil || wrote {
		t.Errorf("second write of the same policy: %v %v", wrote, err)
	}
}
