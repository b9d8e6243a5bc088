package preflight

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

const labContainerd = `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
`

var want = ContainerdWant{SandboxImage: "registry.k8s.io/pause:3.10.1", CgroupDriver: "systemd"}

func TestEditContainerdConfig(t *testing.T) {
	tests := []struct {
		name, in    string
		wantChanges []string
	}{
		{"centos containerd.io", centosContainerd, []string{"version = 2", `remove "cri" from disabled_plugins`,
			"SystemdCgroup = true", `sandbox_image = "registry.k8s.io/pause:3.10.1"`}},
		{"debian", debianContainerd, []string{"runtime_type", "SystemdCgroup = true", "sandbox_image"}},
		{"lab", labContainerd, []string{"SystemdCgroup = true"}},
		{"missing file", "", []string{"version = 2", "SystemdCgroup = true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changes, err := EditContainerdConfig([]byte(tt.in), want)
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(changes, "\n")
			for _, w := range tt.wantChanges {
				if !strings.Contains(joined, w) {
					t.Errorf("changes %q lack %q", joined, w)
				}
			}
			c, err := ParseContainerdConfig(out)
			if err != nil {
				t.Fatal(err)
			}
			if c.CRIDisabled() || c.CgroupDriver() != "systemd" || c.SandboxImage != want.SandboxImage {
				t.Errorf("edited config: disabled=%v driver=%s sandbox=%q\n%s", c.CRIDisabled(), c.CgroupDriver(), c.SandboxImage, out)
			}
			if strings.Contains(tt.in, "restrict_oom_score_adj") && !strings.Contains(string(out), "restrict_oom_score_adj = true") {
				t.Errorf("a setting kubestrap does not own was dropped:\n%s", out)
			}
			if strings.Contains(tt.in, "bin_dir") && !strings.Contains(string(out), "/usr/lib/cni") {
				t.Errorf("the CNI bin_dir was dropped:\n%s", out)
			}
			again, changes2, err := EditContainerdConfig(out, want)
			if err != nil || len(changes2) != 0 || string(again) != string(out) {
				t.Errorf("second edit not a no-op: %v %v", changes2, err)
			}
		})
	}
	if _, _, err := EditContainerdConfig([]byte("version = ["), want); err == nil {
		t.Error("bad TOML accepted")
	}
}

type fakeSystemd struct{ restarted []string }

func (f *fakeSystemd) Reload(context.Context) error                        { return nil }
func (f *fakeSystemd) Enable(context.Context, ...string) error             { return nil }
func (f *fakeSystemd) Stop(context.Context, string) error                  { return nil }
func (f *fakeSystemd) ActiveState(context.Context, string) (string, error) { return "active", nil }
func (f *fakeSystemd) Restart(_ context.Context, n string) error {
	f.restarted = append(f.restarted, n)
	return nil
}

func TestPlanAndApplyFixes(t *testing.T) {
	e := fakeEnv(t)
	root := string(e.Root)
	write(t, root, "/etc/containerd/config.toml", centosContainerd)
	write(t, root, "/proc/swaps", "Filename Type Size Used Priority\n/dev/sda2 partition 1 0 -2\n")
	write(t, root, "/etc/fstab", "/dev/sda1 / xfs defaults 0 0\n/dev/sda2 swap swap defaults 0 0\n")
	write(t, root, "/proc/sys/net/ipv4/ip_forward", "0\n")
	var ran []string
	e.Run = func(name string, args ...string) ([]byte, error) {
		ran = append(ran, name+" "+strings.Join(args, " "))
		if name == "swapoff" {
			write(t, root, "/proc/swaps", "Filename Type Size Used Priority\n")
		}
		return nil, nil
	}
	sd := &fakeSystemd{}
	now := func() time.Time { return time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC) }
	opts := FixOptions{Want: want, Systemd: sd, Now: now}
	fixes, err := PlanFixes(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fixes {
		names = append(names, f.Name)
		if f.Revert == "" || len(f.Changes) == 0 {
			t.Errorf("%s: no changes or revert text", f.Name)
		}
	}
	if got := strings.Join(names, ","); got != "containerd-config,kernel-modules,sysctl,swap" {
		t.Fatalf("planned %s", got)
	}
	before, _ := os.ReadFile(e.Root.Path("/etc/containerd/config.toml"))
	for _, f := range fixes {
		if err := f.Apply(); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	if len(sd.restarted) != 1 || sd.restarted[0] != "containerd.service" {
		t.Errorf("restarts %v", sd.restarted)
	}
	backup, err := os.ReadFile(e.Root.Path("/etc/containerd/config.toml.kubestrap-backup-20261122T040000Z"))
	if err != nil || string(backup) != string(before) {
		t.Errorf("containerd backup missing or wrong: %v", err)
	}
	fstab, _ := os.ReadFile(e.Root.Path("/etc/fstab"))
	if !strings.Contains(string(fstab), "#/dev/sda2 swap swap") || strings.Contains(string(fstab), "#/dev/sda1") {
		t.Errorf("fstab:\n%s", fstab)
	}
	if v, _ := e.Root.ReadString("/proc/sys/net/ipv4/ip_forward"); v != "1" {
		t.Errorf("ip_forward %q", v)
	}
	again, err := PlanFixes(e, opts)
	if err != nil || len(again) != 0 {
		t.Errorf("fixes not idempotent: %v %v", again, err)
	}
}
