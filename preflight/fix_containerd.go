package preflight

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
)

// ContainerdWant is what Kubernetes needs of containerd's configuration.
type ContainerdWant struct {
	SandboxImage string
	// CgroupDriver is "systemd" or "cgroupfs"; empty leaves the driver
	// as it is (see cgroupDriverHeld).
	CgroupDriver string
}

// EditContainerdConfig returns containerd's config with the CRI plugin on,
// runc's cgroup driver and the sandbox image set, and every other setting
// kept (a lab's restrict_oom_score_adj, a proxy, a mirror): the file is
// edited, never regenerated from `containerd config default`. It lists the
// changes; none means the config already fits. Comments are not kept, which
// is why callers back the old file up.
func EditContainerdConfig(old []byte, want ContainerdWant) ([]byte, []string, error) {
	raw := map[string]any{}
	if len(old) > 0 {
		if err := toml.Unmarshal(old, &raw); err != nil {
			return nil, nil, fmt.Errorf("%s is not valid TOML: %w", ContainerdConfigPath, err)
		}
	}
	var changes []string
	version := 1
	if v, ok := raw["version"].(int64); ok {
		version = int(v)
	} else if _, hasPlugins := raw["plugins"]; !hasPlugins {
		// containerd.io's file has no version and no plugins: version 2 is
		// safe and is what containerd 1.6 documents.
		raw["version"], version = int64(2), 2
		changes = append(changes, "version = 2")
	}
	if dp, ok := raw["disabled_plugins"].([]any); ok {
		kept := slices.DeleteFunc(slices.Clone(dp), func(p any) bool {
			s, _ := p.(string)
			return s == "cri" || s == "io.containerd.grpc.v1.cri"
		})
		if len(kept) != len(dp) {
			raw["disabled_plugins"] = kept
			changes = append(changes, `remove "cri" from disabled_plugins`)
		}
	}
	imagesKey, runtimeKey := "io.containerd.grpc.v1.cri", "io.containerd.grpc.v1.cri"
	switch version {
	case 1:
		imagesKey, runtimeKey = "cri", "cri"
	case 3:
		imagesKey, runtimeKey = "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"
	}
	runc := []string{"plugins", runtimeKey, "containerd", "runtimes", "runc"}
	set(raw, &changes, append(runc, "runtime_type"), "io.containerd.runc.v2", false)
	if want.CgroupDriver != "" {
		set(raw, &changes, append(runc, "options", "SystemdCgroup"), want.CgroupDriver == "systemd", true)
	}
	if want.SandboxImage != "" {
		path := []string{"plugins", imagesKey, "sandbox_image"}
		if version == 3 {
			path = []string{"plugins", imagesKey, "pinned_images", "sandbox"}
		}
		set(raw, &changes, path, want.SandboxImage, true)
	}
	if len(changes) == 0 {
		return old, nil, nil
	}
	b, err := toml.Marshal(raw)
	return b, changes, err
}

// set puts v at path, creating tables; with overwrite false an existing
// value is left alone. A change is recorded when the value differs.
func set(m map[string]any, changes *[]string, path []string, v any, overwrite bool) {
	cur := m
	for _, p := range path[:len(path)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	key := path[len(path)-1]
	old, exists := cur[key]
	if exists && (!overwrite || old == v) {
		return
	}
	cur[key] = v
	*changes = append(*changes, fmt.Sprintf("%s = %v", dotted(path), tomlValue(v)))
}

func dotted(path []string) string {
	s := ""
	for i, p := range path {
		if i > 0 {
			s += "."
		}
		if slices.Contains([]rune(p), '.') {
			p = `"` + p + `"`
		}
		s += p
	}
	return s
}

func tomlValue(v any) string {
	if s, ok := v.(string); ok {
		return `"` + s + `"`
	}
	return fmt.Sprint(v)
}

// cgroupDriverHeld returns a not-fixed Fix when --fix would switch
// containerd's cgroup driver under a configured kubelet: the kubelet keeps
// its driver, and the running node's pods stop starting.
func cgroupDriverHeld(e *node.Host, want ContainerdWant) (*Fix, error) {
	if want.CgroupDriver == "" || !e.Root.Exists(layout.KubeletConfigPath) {
		return nil, nil
	}
	cfg, err := ReadContainerdConfig(e)
	if err != nil || cfg.CgroupDriver() == want.CgroupDriver {
		return nil, err
	}
	msg := fmt.Sprintf("containerd uses the %s cgroup driver and this host wants %s, but the kubelet is already "+
		"configured (%s says cgroupDriver: %s), and switching containerd under it breaks the running node: "+
		"reset the node (`kubestrap reset`) and set it up again, or align the two by hand (SystemdCgroup under runc's options in %s, "+
		"cgroupDriver in %s) and restart containerd and the kubelet",
		cfg.CgroupDriver(), want.CgroupDriver, layout.KubeletConfigPath, kubeletCgroupDriver(e), ContainerdConfigPath, layout.KubeletConfigPath)
	return &Fix{Name: "containerd-cgroup-driver", Changes: []string{"not fixed: " + msg}, Revert: "nothing was changed",
		Apply: func() error { return &NotFixedError{Msg: msg} }}, nil
}

// kubeletCgroupDriver reads cgroupDriver from the kubelet's config; unset
// means the kubelet's default, cgroupfs.
func kubeletCgroupDriver(e *node.Host) string {
	b, _ := e.Root.ReadFile(layout.KubeletConfigPath)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "cgroupDriver:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return "cgroupfs (unset)"
}
