package preflight

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/node"
	"github.com/kubestrap/kubestrap/systemd/systemdtest"
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
	sd := &systemdtest.Fake{}
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
	if got := strings.Join(sd.Called(), ","); got != "restart containerd.service" {
		t.Errorf("systemd calls %v", got)
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

var fixNow = func() time.Time { return time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC) }

const backupSuffix = ".kubestrap-backup-20261122T040000Z"

// applyAll plans and applies every fix; a not-fixed one is returned.
func applyAll(t *testing.T, e *node.Host) (applied []string, notFixed error) {
	t.Helper()
	fixes, err := PlanFixes(e, FixOptions{Want: want, Systemd: &systemdtest.Fake{}, Now: fixNow})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixes {
		applied = append(applied, f.Name)
		var nf *NotFixedError
		if err := f.Apply(); errors.As(err, &nf) {
			notFixed = err
		} else if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
	}
	return applied, notFixed
}

func swapOn(t *testing.T, e *node.Host) {
	root := string(e.Root)
	write(t, root, "/proc/swaps", "Filename Type Size Used Priority\n/dev/sda2 partition 1 0 -2\n")
	write(t, root, "/etc/fstab", "/dev/sda2 swap swap defaults 0 0\n")
	e.Run = func(name string, _ ...string) ([]byte, error) {
		if name == "swapoff" {
			write(t, root, "/proc/swaps", "Filename Type Size Used Priority\n")
		}
		return nil, nil
	}
}

func TestFixKeepsModeAndOwnerOfEditedFilesAndBackups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test chowns files to another user: run the unit tests as root (CI does)")
	}
	e := fakeEnv(t)
	swapOn(t, e)
	write(t, string(e.Root), ContainerdConfigPath, debianContainerd+"# registry credentials\n")
	write(t, string(e.Root), SysctlFile, "# an older kubestrap's drop-in\nnet.ipv4.ip_forward = 1\n")
	edited := []string{ContainerdConfigPath, SysctlFile, "/etc/fstab"}
	before := map[string]string{}
	for _, p := range edited {
		full := e.Root.Path(p)
		if err := os.Chmod(full, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(full, 1234, 1234); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(full)
		before[p] = string(b)
	}
	applyAll(t, e)
	for _, p := range edited {
		full := e.Root.Path(p)
		for _, f := range []string{full, full + backupSuffix} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode().Perm() != 0o600 || st.Uid != 1234 || st.Gid != 1234 {
				t.Errorf("%s: mode %v owner %d:%d, want 0600 1234:1234", f, fi.Mode().Perm(), st.Uid, st.Gid)
			}
		}
		after, _ := os.ReadFile(full)
		backup, _ := os.ReadFile(full + backupSuffix)
		if string(backup) != before[p] || string(after) == before[p] {
			t.Errorf("%s: not edited, or its backup is not the original:\n%s", p, backup)
		}
	}
}

func TestFixWritesOwnDropInsAndLeavesK8sConf(t *testing.T) {
	e := fakeEnv(t)
	root := string(e.Root)
	admin := map[string]string{
		"/etc/modules-load.d/k8s.conf": "# the admin's\noverlay\n",
		"/etc/sysctl.d/k8s.conf":       "# the admin's\nnet.ipv4.ip_forward=1\nvm.max_map_count=262144\n",
	}
	for p, c := range admin {
		write(t, root, p, c)
	}
	write(t, root, "/proc/sys/net/ipv4/ip_forward", "0\n")
	if applied, _ := applyAll(t, e); !strings.Contains(strings.Join(applied, ","), "kernel-modules,sysctl") {
		t.Fatalf("applied %v", applied)
	}
	for p, c := range admin {
		if b, err := os.ReadFile(e.Root.Path(p)); err != nil || string(b) != c {
			t.Errorf("%s changed: %q %v", p, b, err)
		}
		if e.Root.Exists(p + backupSuffix) {
			t.Errorf("%s was backed up, so it was written", p)
		}
	}
	if b, _ := e.Root.ReadFile(ModulesFile); !strings.Contains(string(b), "br_netfilter") {
		t.Errorf("%s: %q", ModulesFile, b)
	}
	if b, _ := e.Root.ReadFile(SysctlFile); !strings.Contains(string(b), "net.ipv4.ip_forward = 1") {
		t.Errorf("%s: %q", SysctlFile, b)
	}
}

func TestFixHoldsCgroupDriverOfConfiguredKubelet(t *testing.T) {
	e := fakeEnv(t)
	write(t, string(e.Root), ContainerdConfigPath, debianContainerd)
	write(t, string(e.Root), layout.KubeletConfigPath, "kind: KubeletConfiguration\ncgroupDriver: cgroupfs\n")
	applied, notFixed := applyAll(t, e)
	if got := strings.Join(applied, ","); !strings.HasPrefix(got, "containerd-config,") ||
		!strings.HasSuffix(got, ",containerd-cgroup-driver") {
		t.Fatalf("fixes %s: want the containerd edit first and the held driver last", got)
	}
	c, err := ReadContainerdConfig(e)
	if err != nil || c.CgroupDriver() != "cgroupfs" || c.SandboxImage != want.SandboxImage {
		t.Errorf("containerd: driver %s sandbox %q %v; want cgroupfs kept and the rest fixed", c.CgroupDriver(), c.SandboxImage, err)
	}
	for _, w := range []string{"containerd uses the cgroupfs", "wants systemd", "cgroupDriver: cgroupfs",
		"`kubestrap reset`", "align the two by hand"} {
		if notFixed == nil || !strings.Contains(notFixed.Error(), w) {
			t.Errorf("not-fixed report %v lacks %q", notFixed, w)
		}
	}
	// Without a configured kubelet the same host gets systemd.
	_ = os.Remove(e.Root.Path(layout.KubeletConfigPath))
	if _, notFixed := applyAll(t, e); notFixed != nil {
		t.Fatal(notFixed)
	}
	if c, _ := ReadContainerdConfig(e); c.CgroupDriver() != "systemd" {
		t.Errorf("driver %s, want systemd", c.CgroupDriver())
	}
}

func TestFixRaisesLowInotifyLimitsOnly(t *testing.T) {
	e := fakeEnv(t)
	write(t, string(e.Root), "/proc/sys/fs/inotify/max_user_instances", "128\n")
	applied, _ := applyAll(t, e)
	if !strings.Contains(strings.Join(applied, ","), "sysctl") {
		t.Fatalf("applied %v", applied)
	}
	if v, _ := e.Root.ReadString("/proc/sys/fs/inotify/max_user_instances"); v != "512" {
		t.Errorf("max_user_instances %q, want 512", v)
	}
	if v, _ := e.Root.ReadString("/proc/sys/fs/inotify/max_user_watches"); v != "1048576" {
		t.Errorf("max_user_watches %q: a higher limit was lowered", v)
	}
	b, _ := e.Root.ReadFile(SysctlFile)
	if !strings.Contains(string(b), "fs.inotify.max_user_instances = 512\n") || strings.Contains(string(b), "max_user_watches") {
		t.Errorf("%s:\n%s", SysctlFile, b)
	}
	if warns, errs := InotifyLimits(e).Check(); len(warns)+len(errs) != 0 {
		t.Errorf("still reported after the fix: %v %v", warns, errs)
	}
	if again, err := PlanFixes(e, FixOptions{Want: want, Now: fixNow}); err != nil || len(again) != 0 {
		t.Errorf("not idempotent: %v %v", again, err)
	}
	_ = os.Remove(e.Root.Path("/proc/sys/fs/inotify/max_user_watches"))
	if warns, errs := InotifyLimits(e).Check(); len(warns) != 1 || len(errs) != 0 {
		t.Errorf("unreadable limit: %v %v, want one warning", warns, errs)
	}
}
