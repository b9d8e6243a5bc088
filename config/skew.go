package config

import (
	"fmt"
	"strings"
)

// MaxKubeletSkew is how many minor versions a kubelet may trail the API
// server under the upstream version skew policy. It may never be newer:
// the API server would not serve the newer kubelet's APIs.
const MaxKubeletSkew = 3

// CheckKubeletSkew checks a kubelet version (e.g. the installed agent's)
// against the control plane's, both like "v1.35.4", under the upstream skew
// policy. Patch versions do not matter. Only the syntax is checked, not
// kubestrap's supported window: a v1.32 kubelet under a v1.35 control plane
// is within policy although kubestrap deploys no v1.32 control plane.
func CheckKubeletSkew(kubelet, controlPlane string) error {
	var ps problems
	kv, kerr := parseVersion(kubelet)
	if kerr != nil {
		ps.add("kubelet version", kerr.Error(), "pass --agent-binary with a release kubelet, e.g. "+DefaultKubernetesVersion)
	}
	cv, cerr := parseVersion(controlPlane)
	if cerr != nil {
		ps.add("kubernetesVersion", cerr.Error(), "e.g. "+DefaultKubernetesVersion)
	}
	if kerr == nil && cerr == nil {
		checkSkew(&ps, kv, cv)
	}
	return ps.err()
}

func checkSkew(ps *problems, kubelet, cp Version) {
	behind := cp.Minor - kubelet.Minor
	var msg string
	switch {
	case kubelet.Major != cp.Major:
		msg = fmt.Sprintf("kubelet %s and control plane %s differ in major version", kubelet, cp)
	case behind < 0:
		msg = fmt.Sprintf("kubelet %s is newer than the control plane %s; a kubelet must not be newer than "+
			"the API server", kubelet, cp)
	case behind > MaxKubeletSkew:
		msg = fmt.Sprintf("kubelet %s is %d minor versions older than the control plane %s; a kubelet may trail "+
			"the API server by at most %d", kubelet, behind, cp, MaxKubeletSkew)
	default:
		return
	}
	ps.add("kubernetesVersion", msg, skewHint(kubelet, cp))
}

// skewHint offers the two ways out: a control plane matching the kubelet,
// when kubestrap can deploy that version, and a kubelet the control plane
// accepts.
func skewHint(kubelet, cp Version) string {
	var fixes []string
	if kubelet.Major == 1 && kubelet.Minor >= MinSupportedMinor && kubelet.Minor <= MaxSupportedMinor {
		fixes = append(fixes, "use --kubernetes-version "+kubelet.String()+" to match the kubelet")
	}
	oldest := max(cp.Minor-MaxKubeletSkew, 0)
	fixes = append(fixes, fmt.Sprintf("pass --agent-binary with a kubelet from v%d.%d to v%d.%d",
		cp.Major, oldest, cp.Major, cp.Minor))
	return strings.Join(fixes, ", or ")
}
