package staticpods

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubestrap/kubestrap/config"
)

func TestSetFlag(t *testing.T) {
	cmd := []string{"kube-apiserver", "--a=1", "--b=2"}
	if got := SetFlag(cmd, "b", "3"); !slices.Equal(got, []string{"kube-apiserver", "--a=1", "--b=3"}) {
		t.Errorf("replace: %v", got)
	}
	if got := SetFlag(cmd, "c", "4"); !slices.Equal(got, []string{"kube-apiserver", "--a=1", "--b=2", "--c=4"}) {
		t.Errorf("add: %v", got)
	}
	if cmd[2] != "--b=2" {
		t.Error("SetFlag changed its input")
	}
}

func TestUpgradedKeepsEverythingButImageAndFlags(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "etcd", Image: "r/etcd:3.6.5-0",
		Command: []string{"etcd", "--initial-cluster=a=https://1.2.3.4:2380,b=https://1.2.3.5:2380"}}},
		Volumes: []corev1.Volume{{Name: "etcd-data"}}}}
	u := Upgraded(p, "r/etcd:3.6.6-0", []config.Arg{{Name: "quota-backend-bytes", Value: "8589934592"}})
	c := u.Spec.Containers[0]
	if c.Image != "r/etcd:3.6.6-0" || c.Command[1] != p.Spec.Containers[0].Command[1] ||
		c.Command[2] != "--quota-backend-bytes=8589934592" || len(u.Spec.Volumes) != 1 {
		t.Errorf("upgraded: %+v", u.Spec)
	}
	if p.Spec.Containers[0].Image != "r/etcd:3.6.5-0" {
		t.Error("Upgraded changed its input")
	}
}

// An Upgrade whose manifest is at the target already changes nothing and
// needs no runtime; a dry run of a pending one writes nothing.
func TestUpgradeUnchangedAndDryRun(t *testing.T) {
	dir := t.TempDir()
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: Scheduler, Image: "r/kube-scheduler:v1.35.4",
		Command: []string{"kube-scheduler"}}}}}
	p.Name = Scheduler
	path, _, err := Write(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	u := Upgrade{ManifestDir: dir, BackupDir: filepath.Join(dir, "backup"), Component: Scheduler, Image: "r/kube-scheduler:v1.35.4"}
	res, err := u.Run(context.Background())
	if err != nil || res.Changed {
		t.Fatalf("at the target: %+v %v", res, err)
	}
	u.Image, u.DryRun = "r/kube-scheduler:v1.36.0", true
	res, err = u.Run(context.Background())
	after, _ := os.ReadFile(path)
	if err != nil || !res.Changed || res.From != "r/kube-scheduler:v1.35.4" || string(after) != string(before) {
		t.Fatalf("dry run: %+v %v, manifest changed: %v", res, err, string(after) != string(before))
	}
	if _, err := os.Stat(u.BackupDir); !os.IsNotExist(err) {
		t.Error("a dry run kept a backup")
	}
}

// A run killed after the old manifest was taken away resumes from the kept
// copy: the target is computed from it, so the component is not lost.
func TestUpgradeResumesFromBackup(t *testing.T) {
	dir := t.TempDir()
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: Scheduler, Image: "r/kube-scheduler:v1.34.4"}}}}
	p.Name = Scheduler
	backup := filepath.Join(dir, "backup")
	if _, _, err := Write(backup, p); err != nil {
		t.Fatal(err)
	}
	u := Upgrade{ManifestDir: dir, BackupDir: backup, Component: Scheduler, Image: "r/kube-scheduler:v1.35.4", DryRun: true}
	res, err := u.Run(context.Background())
	if err != nil || !res.Changed || res.From != "r/kube-scheduler:v1.34.4" {
		t.Fatalf("resume: %+v %v", res, err)
	}
	u.DryRun = false
	u.BackupDir = filepath.Join(dir, "none")
	if _, err := u.Run(context.Background()); err == nil {
		t.Error("no manifest and no backup: want an error")
	}
}

// The mirror pod matches only when the kubelet shows the manifest's image
// and command; its defaults (pull policy, resources) do not matter.
func TestSameSpec(t *testing.T) {
	manifest := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "r/kube-apiserver:v1.35.4",
		Command: []string{"kube-apiserver", "--a=1"}}}}}
	mirror := manifest.DeepCopy()
	mirror.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
	if !SameSpec(mirror, manifest) {
		t.Error("defaults only: want the same")
	}
	mirror.Spec.Containers[0].Command = []string{"kube-apiserver", "--a=2"}
	if SameSpec(mirror, manifest) {
		t.Error("a flag differs: want different")
	}
	mirror = manifest.DeepCopy()
	mirror.Spec.Containers[0].Image = "r/kube-apiserver:v1.34.4"
	if SameSpec(mirror, manifest) || SameSpec(&corev1.Pod{}, manifest) {
		t.Error("another image, or no container: want different")
	}
}

// A component healthy whose mirror pod never shows the new spec fails
// with an error that says it is healthy (no rollback follows from it).
func TestWaitMirrored(t *testing.T) {
	calls := 0
	u := Upgrade{Component: Scheduler, Timeout: 1200 * time.Millisecond, Out: io.Discard,
		Mirrored: func(_ context.Context, want *corev1.Pod) (bool, error) {
			calls++
			return want.Spec.Containers[0].Image == "r/s:v2" && calls > 1, nil
		}}
	if err := u.waitMirrored(context.Background(), []byte("spec:\n  containers:\n  - image: r/s:v2\n")); err != nil || calls != 2 {
		t.Fatalf("shown on the second look: %v after %d calls", err, calls)
	}
	err := u.waitMirrored(context.Background(), []byte("spec:\n  containers:\n  - image: r/s:v3\n"))
	if err == nil || !strings.Contains(err.Error(), "healthy") {
		t.Fatalf("never shown: %v", err)
	}
	if (Upgrade{}).waitMirrored(context.Background(), nil) != nil {
		t.Error("no Mirrored: nothing to wait for")
	}
}
