package preflight

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
)

// ContainerdConfigPath is where containerd reads its configuration.
const ContainerdConfigPath = "/etc/containerd/config.toml"

// ContainerdConfig is what kubestrap needs to know of containerd's config.
type ContainerdConfig struct {
	Exists          bool
	Version         int
	DisabledPlugins []string
	// SystemdCgroup is runc's cgroup driver setting; nil when unset
	// (containerd's default, cgroupfs).
	SystemdCgroup *bool
	SandboxImage  string
	// CNIBinDir and CNIConfDir are where the CRI plugin looks for CNI
	// plugins and network configs.
	CNIBinDir, CNIConfDir string
}

// CRIDisabled reports whether the CRI plugin is switched off, as in the
// config.toml that containerd.io (Docker's CentOS package) ships.
func (c ContainerdConfig) CRIDisabled() bool {
	for _, p := range c.DisabledPlugins {
		if p == "cri" || p == "io.containerd.grpc.v1.cri" || strings.HasPrefix(p, "io.containerd.cri.v1") {
			return true
		}
	}
	return false
}

// CgroupDriver is the driver the kubelet must use to match containerd.
func (c ContainerdConfig) CgroupDriver() string {
	if c.SystemdCgroup != nil && *c.SystemdCgroup {
		return "systemd"
	}
	return "cgroupfs"
}

// ReadContainerdConfig parses containerd's config; a missing file means
// containerd's built-in defaults.
func ReadContainerdConfig(e *node.Host) (ContainerdConfig, error) {
	b, err := e.Root.ReadFile(ContainerdConfigPath)
	if errors.Is(err, fs.ErrNotExist) {
		return ContainerdConfig{CNIBinDir: "/opt/cni/bin", CNIConfDir: "/etc/cni/net.d"}, nil
	}
	if err != nil {
		return ContainerdConfig{}, err
	}
	return ParseContainerdConfig(b)
}

// ParseContainerdConfig understands config versions 1 and 2 (containerd
// 1.x) and 3 (containerd 2.x).
func ParseContainerdConfig(b []byte) (ContainerdConfig, error) {
	var raw map[string]any
	if err := toml.Unmarshal(b, &raw); err != nil {
		return ContainerdConfig{}, fmt.Errorf("%s is not valid TOML: %w", ContainerdConfigPath, err)
	}
	c := ContainerdConfig{Exists: true, Version: 1}
	if v, ok := raw["version"].(int64); ok {
		c.Version = int(v)
	}
	if dp, ok := raw["disabled_plugins"].([]any); ok {
		for _, p := range dp {
			if s, ok := p.(string); ok {
				c.DisabledPlugins = append(c.DisabledPlugins, s)
			}
		}
	}
	criKey, runtimeKey := "io.containerd.grpc.v1.cri", "io.containerd.grpc.v1.cri"
	switch c.Version {
	case 1:
		criKey, runtimeKey = "cri", "cri"
	case 3:
		criKey, runtimeKey = "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"
	}
	plugins, _ := raw["plugins"].(map[string]any)
	if b, ok := dig(plugins, runtimeKey, "containerd", "runtimes", "runc", "options", "SystemdCgroup").(bool); ok {
		c.SystemdCgroup = &b
	}
	if s, ok := dig(plugins, criKey, "sandbox_image").(string); ok {
		c.SandboxImage = s
	}
	if s, ok := dig(plugins, criKey, "pinned_images", "sandbox").(string); ok {
		c.SandboxImage = s
	}
	c.CNIBinDir, c.CNIConfDir = "/opt/cni/bin", "/etc/cni/net.d"
	if s, ok := dig(plugins, runtimeKey, "cni", "bin_dir").(string); ok && s != "" {
		c.CNIBinDir = s
	}
	if s, ok := dig(plugins, runtimeKey, "cni", "conf_dir").(string); ok && s != "" {
		c.CNIConfDir = s
	}
	return c, nil
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// CRIFix is how to switch the CRI plugin back on.
const CRIFix = "edit " + ContainerdConfigPath + ": remove \"cri\" from disabled_plugins (containerd.io ships " +
	"`disabled_plugins = [\"cri\"]`), then run `systemctl restart containerd`; `kubestrap preflight --fix` does this"

// CRI checks that the container runtime answers a CRI Version call, that
// its CRI plugin is on, and that it can run the Kubernetes version.
func CRI(e *node.Host, endpoint string, kubernetesMinor int) Checker {
	return &criCheck{e: e, endpoint: endpoint, minor: kubernetesMinor}
}

type criCheck struct {
	e        *node.Host
	endpoint string
	minor    int
	info     string
}

func (c *criCheck) Name() string { return "CRI" }
func (c *criCheck) Info() string { return c.info }

func (c *criCheck) Check() ([]error, []error) {
	cfg, cfgErr := ReadContainerdConfig(c.e)
	if cfgErr == nil && cfg.CRIDisabled() {
		return nil, one(errors.New("containerd's CRI plugin is disabled: " + CRIFix))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	name, version, err := c.e.CRIVersion(ctx, c.endpoint)
	if err != nil {
		return nil, one(criError(c.endpoint, err))
	}
	c.info = name + " " + version
	var warns []error
	if cfgErr != nil {
		warns = append(warns, cfgErr)
	}
	if name == "containerd" && majorOf(version) == 1 && c.minor >= 36 {
		return warns, one(fmt.Errorf("this node has containerd %[2]s, but Kubernetes v1.%[1]d needs containerd 2.x "+
			"(CentOS 7 and Debian 12 ship 1.x): use Kubernetes %[3]s (the default) or upgrade containerd", c.minor, version,
			config.DefaultKubernetesVersion))
	}
	return warns, nil
}

func criError(endpoint string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unknown service runtime.v1.RuntimeService"):
		return errors.New("the runtime at " + endpoint + " does not serve CRI: " + CRIFix)
	case strings.Contains(msg, "no such file") || strings.Contains(msg, "connection refused"):
		return fmt.Errorf("no container runtime answers at %s: install containerd and run "+
			"`systemctl enable --now containerd` (%v)", endpoint, err)
	}
	return fmt.Errorf("container runtime at %s: %w", endpoint, err)
}

func majorOf(v string) int {
	v = strings.TrimPrefix(v, "v")
	n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return n
}

// CgroupDriver reports containerd's cgroup driver, which the kubelet must
// match, and warns when systemd runs the host but containerd uses cgroupfs
// (two managers of one cgroup tree is what the Kubernetes docs warn about).
func CgroupDriver(e *node.Host) Checker {
	return &cgroupDriverCheck{e: e}
}

type cgroupDriverCheck struct {
	e    *node.Host
	info string
}

func (c *cgroupDriverCheck) Name() string { return "CgroupDriver" }
func (c *cgroupDriverCheck) Info() string { return c.info }

func (c *cgroupDriverCheck) Check() ([]error, []error) {
	cfg, err := ReadContainerdConfig(c.e)
	if err != nil {
		return one(err), nil
	}
	c.info = "containerd uses " + cfg.CgroupDriver()
	init, _ := c.e.Root.ReadString("/proc/1/comm")
	if init == "systemd" && cfg.CgroupDriver() != "systemd" {
		return one(errors.New("systemd runs this host but containerd uses the cgroupfs driver: set SystemdCgroup = true " +
			"under the runc options in " + ContainerdConfigPath + " and restart containerd (`kubestrap preflight --fix`); " +
			"kubestrap configures the kubelet to match either way")), nil
	}
	return nil, nil
}
