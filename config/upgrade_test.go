package config

import (
	"strings"
	"testing"
)

func TestCheckUpgrade(t *testing.T) {
	tests := []struct{ from, to, want string }{
		{"v1.34.4", "v1.35.4", ""},
		{"v1.35.4", "v1.35.4", ""},
		{"v1.35.4", "v1.35.1", ""},
		{"v1.34.4", "v1.36.3", "skips 1 minor versions: upgrade one minor at a time (first to v1.35.x)"},
		{"v1.35.4", "v1.34.4", "downgrade of the minor version"},
		{"v1.35.4", "v1.40.0", "is not supported"},
		{"v1.35.4", "1.36", "not a release version"},
		{"garbage", "v1.35.4", "the cluster's version"},
	}
	for _, tt := range tests {
		err := CheckUpgrade(tt.from, tt.to)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckUpgrade(%s, %s) = %v, want %q", tt.from, tt.to, err, tt.want)
		}
	}
	if !Newer("v1.35.10", "v1.35.9") || Newer("v1.35.4", "v1.35.4") || !NewerMinor("v1.35.0", "v1.34.9") || NewerMinor("v1.35.9", "v1.35.0") {
		t.Error("Newer/NewerMinor disagree with version order")
	}
}
