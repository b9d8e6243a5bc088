package fleet

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLongStepsRunDetachedFromTheSession(t *testing.T) {
	fc := newFakeCluster()
	if _, err := Up(context.Background(), haCluster(t), Options{Dial: fc.dial}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"kubestrap init": true, "kubestrap join": true, "kubestrap preflight": true,
		"kubestrap init phase upload-certs": true}
	for _, name := range fc.detached {
		delete(want, name)
		if !strings.HasPrefix(name, "kubestrap ") || name == "kubestrap token create" {
			t.Errorf("%s ran detached", name)
		}
	}
	if len(want) > 0 {
		t.Errorf("not detached: %v (detached: %v)", want, fc.detached)
	}
	for _, s := range fc.scripts {
		if strings.Contains(s, "# "+kubestrapPath+" 'init' '--config'") &&
			!strings.Contains(s, "systemd-run --quiet --unit kubestrap-up-init") {
			t.Errorf("init does not run as the unit kubestrap-up-init under systemd:\n%s", s)
		}
	}
}

// TestADetachedCommandOutlivesItsSession plays the host without systemd
// with the local sh: the session that started a command is killed (a
// dropped connection); the command goes on, and the next session waits for
// it and gets its output and status instead of starting it again.
func TestADetachedCommandOutlivesItsSession(t *testing.T) {
	for _, tool := range []string{"setsid", "nohup"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (util-linux, coreutils)", tool)
		}
	}
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	cmd := "echo started >>" + shellQuote(count) + "; sleep 1; echo '{\"changed\":true}'; echo progress >&2; exit 3"
	script := detach(filepath.Join(dir, "up"), filepath.Join(dir, "no-systemd"), "init", cmd)

	first := exec.Command("sh", "-c", script)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the command to start", func() bool { _, err := os.Stat(count); return err == nil })
	_ = first.Process.Kill()
	_ = first.Wait()

	var stdout, stderr bytes.Buffer
	second := exec.Command("sh", "-c", script)
	second.Stdout, second.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := second.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("the re-run's status: %v (stderr %q)", err, stderr.String())
	}
	if stdout.String() != "{\"changed\":true}\n" || !strings.Contains(stderr.String(), "progress") {
		t.Errorf("the re-run's output %q, stderr %q", stdout.String(), stderr.String())
	}
	if started, _ := os.ReadFile(count); string(started) != "started\n" || time.Since(t0) > 3*time.Second {
		t.Errorf("the command ran %q times (re-run took %s), want once", started, time.Since(t0))
	}
	left, _ := filepath.Glob(filepath.Join(dir, "up", "init.*"))
	if len(left) > 0 {
		t.Errorf("files left (the output holds init's token): %v", left)
	}
}
