package staticpods

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/config"
)

func writeAll(t *testing.T, c *config.Init) string {
	t.Helper()
	dir := t.TempDir()
	pods, err := All(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if _, _, err := Write(dir, p); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readManifest(t *testing.T, path string) *corev1.Pod {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p corev1.Pod
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// The kubelet recreates a static pod when its manifest's hash changes: the
// annotation must change the file and nothing else in the pod.
func TestMarkRestartChangesOnlyTheAnnotation(t *testing.T) {
	dir := writeAll(t, testConfig(t, nil))
	path := filepath.Join(dir, KubeAPIServer+".yaml")
	before := readManifest(t, path)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := MarkRestart(dir, KubeAPIServer, at); err != nil {
		t.Fatal(err)
	}
	after := readManifest(t, path)
	if got := after.Annotations[AnnotationRestartedAt]; got != "2026-03-01T12:00:00Z" {
		t.Errorf("annotation %q", got)
	}
	if after.Annotations[AnnotationAPIServerEP] != before.Annotations[AnnotationAPIServerEP] {
		t.Error("the endpoint annotation was lost")
	}
	delete(after.Annotations, AnnotationRestartedAt)
	a, _ := Marshal(before)
	b, _ := Marshal(after)
	if string(a) != string(b) {
		t.Errorf("the pod changed beyond the annotation:\n%s\n---\n%s", a, b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != ManifestMode {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	if err := MarkRestart(dir, KubeAPIServer, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(path); string(second) == string(first) {
		t.Error("a second restart left the manifest as it was: the kubelet would not restart the pod")
	}
	if err := MarkRestart(dir, "nothing", at); !os.IsNotExist(err) {
		t.Errorf("missing manifest: %v", err)
	}
}

func TestLocalAPIEndpointFromTheManifest(t *testing.T) {
	dir := writeAll(t, testConfig(t, func(c *config.Init) { c.LocalAPIEndpoint.BindPort = 8443 }))
	ep, err := LocalAPIEndpoint(dir)
	if err != nil || ep.AdvertiseAddress != "192.168.56.10" || ep.BindPort != 8443 {
		t.Errorf("endpoint %+v %v", ep, err)
	}
	if _, err := LocalAPIEndpoint(t.TempDir()); !os.IsNotExist(err) {
		t.Errorf("no manifest: %v", err)
	}
}
