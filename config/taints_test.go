package config

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestEmptyTaintsSurviveARoundTrip(t *testing.T) {
	for _, tc := range []struct {
		taints []Taint
		want   string
		isNil  bool
	}{
		{[]Taint{}, "taints: []", false},
		{nil, "", true},
		{[]Taint{{Key: "k", Effect: "NoSchedule"}}, "key: k", false},
	} {
		b, err := yaml.Marshal(NodeRegistrationOptions{Name: "n", Taints: tc.taints})
		if err != nil {
			t.Fatal(err)
		}
		if (tc.want == "") != !strings.Contains(string(b), "taints") || (tc.want != "" && !strings.Contains(string(b), tc.want)) {
			t.Errorf("%v marshals as:\n%s", tc.taints, b)
		}
		var back NodeRegistrationOptions
		if err := yaml.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if (back.Taints == nil) != tc.isNil || len(back.Taints) != len(tc.taints) || back.Name != "n" {
			t.Errorf("%v came back as %#v", tc.taints, back)
		}
	}
}
