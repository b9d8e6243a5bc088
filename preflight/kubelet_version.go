package preflight

import (
	"fmt"
	"strings"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
)

// KubeletVersion checks the kubelet that will run (the bundled one, or
// --agent-binary) against the control plane's version by the upstream skew
// policy: a kubelet never newer than the API server, at most three minors
// older. kubeadm has the same check under the same name.
func KubeletVersion(e *node.Host, binary, controlPlane string) Checker {
	return &kubeletVersionCheck{e: e, binary: binary, controlPlane: controlPlane}
}

type kubeletVersionCheck struct {
	e                    *node.Host
	binary, controlPlane string
}

func (c *kubeletVersionCheck) Name() string { return "KubeletVersion" }

func (c *kubeletVersionCheck) Check() ([]error, []error) {
	if c.binary == "" {
		return one(fmt.Errorf("no kubelet found to check against Kubernetes %s: unpack the whole release, or pass "+
			"--agent-binary", c.controlPlane)), nil
	}
	out, err := c.e.Run(c.binary, "--version")
	if err != nil {
		return one(fmt.Errorf("cannot tell the version of %s: %v", c.binary, err)), nil
	}
	// `kubelet --version` prints "Kubernetes v1.35.4".
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		return one(fmt.Errorf("%s --version printed nothing", c.binary)), nil
	}
	v := fields[len(fields)-1]
	if err := config.CheckKubeletSkew(v, c.controlPlane); err != nil {
		return nil, one(fmt.Errorf("%s: %w", c.binary, err))
	}
	return nil, nil
}
