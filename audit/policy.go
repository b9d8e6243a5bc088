// Package audit holds the API server's default audit policy, the one a
// cluster gets when its configuration names none.
package audit

import (
	"bytes"
	"os"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/node"
)

// DefaultPolicy logs who did what to which object (level Metadata) and no
// request or response body, so that no Secret, ConfigMap or token ever
// lands in the log. It leaves out what every node and controller repeats
// every few seconds (health checks, leases, events, a node reading
// itself), which would bury the rest and cost the API server a write each.
func DefaultPolicy() *auditv1.Policy {
	core := func(rs ...string) auditv1.GroupResources { return auditv1.GroupResources{Group: "", Resources: rs} }
	p := &auditv1.Policy{
		OmitStages: []auditv1.Stage{auditv1.StageRequestReceived},
		Rules: []auditv1.PolicyRule{
			{Level: auditv1.LevelNone, NonResourceURLs: []string{"/healthz*", "/livez*", "/readyz*", "/version", "/metrics"}},
			{Level: auditv1.LevelNone, Resources: []auditv1.GroupResources{core("events"),
				{Group: "events.k8s.io", Resources: []string{"events"}}}},
			{Level: auditv1.LevelNone, Verbs: []string{"get", "update", "watch", "list"},
				Resources: []auditv1.GroupResources{{Group: "coordination.k8s.io", Resources: []string{"leases"}}}},
			{Level: auditv1.LevelNone, UserGroups: []string{"system:nodes"}, Verbs: []string{"get", "watch", "list"},
				Resources: []auditv1.GroupResources{core("nodes", "nodes/status")}},
			{Level: auditv1.LevelNone, Users: []string{"system:kube-proxy"}, Verbs: []string{"watch", "list"},
				Resources: []auditv1.GroupResources{core("endpoints", "services", "services/status"),
					{Group: "discovery.k8s.io", Resources: []string{"endpointslices"}}}},
			{Level: auditv1.LevelMetadata},
		},
	}
	p.APIVersion, p.Kind = auditv1.SchemeGroupVersion.String(), "Policy"
	return p
}

// WriteDefault writes DefaultPolicy to path unless it is there already;
// it says whether it wrote.
func WriteDefault(path string) (bool, error) {
	b, err := yaml.Marshal(DefaultPolicy())
	if err != nil {
		return false, err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return false, nil
	}
	return true, node.WriteFileAtomic(path, b, 0o600)
}
