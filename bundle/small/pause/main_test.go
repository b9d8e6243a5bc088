package main

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestLoopReapsOnSIGCHLDAndExitsOnTERM(t *testing.T) {
	sigs := make(chan os.Signal, 4)
	reaped := 0
	sigs <- syscall.SIGCHLD
	sigs <- syscall.SIGCHLD
	sigs <- syscall.SIGTERM
	if code := loop(sigs, func() int { reaped++; return 1 }); code != 0 || reaped != 2 {
		t.Errorf("code %d reaped %d", code, reaped)
	}
}

func TestReapCollectsExitedChildren(t *testing.T) {
	for i := 0; i < 3; i++ {
		c := exec.Command("true")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	total := 0
	for total < 3 && time.Now().Before(deadline) {
		total += reap()
		time.Sleep(10 * time.Millisecond)
	}
	if total != 3 {
		t.Errorf("reaped %d of 3 children", total)
	}
	if n := reap(); n != 0 {
		t.Errorf("reap with no children returned %d", n)
	}
}

// The built binary must idle, not spin, and exit 0 on SIGTERM.
func TestBinaryIdlesAndStops(t *testing.T) {
	bin := t.TempDir() + "/pause"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	var ru syscall.Rusage
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if err != nil {
		t.Fatalf("exit: %v", err)
	}
	if r, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		ru = *r
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if cpu > 200*time.Millisecond {
		t.Errorf("pause used %v of CPU in 0.5 s: it spins", cpu)
	}
}
