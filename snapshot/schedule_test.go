package snapshot

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/systemd/systemdtest"
)

func render(t *testing.T, opts []*unit.UnitOption) []byte {
	t.Helper()
	b, err := io.ReadAll(unit.Serialize(opts))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSpanAndExecArg(t *testing.T) {
	for d, want := range map[time.Duration]string{6 * time.Hour: "6h", 90 * time.Minute: "90min", 45 * time.Second: "45s",
		24 * time.Hour: "24h"} {
		if got := Span(d); got != want {
			t.Errorf("Span(%s) = %s, want %s", d, got, want)
		}
	}
	if got := execArg("/srv/my tools/kubestrap"); got != `"/srv/my tools/kubestrap"` {
		t.Errorf("execArg = %s", got)
	}
	if got := execArg("/usr/local/bin/kubestrap"); got != "/usr/local/bin/kubestrap" {
		t.Errorf("execArg = %s", got)
	}
}

func TestScheduleValidateNamesEveryProblem(t *testing.T) {
	err := Schedule{Binary: "/k", Dir: "snaps", Every: time.Second, Retain: 0}.Validate()
	for _, want := range []string{"--every 1s", "--retain 0", `--dir "snaps"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
}

func TestEnableAndDisable(t *testing.T) {
	dir := t.TempDir()
	sd := &systemdtest.Fake{}
	s := Schedule{Binary: "/k", Dir: "/var/snaps", Every: 6 * time.Hour, Retain: 5}
	ctx := context.Background()
	if err := Enable(ctx, sd, dir, s); err != nil {
		t.Fatal(err)
	}
	if err := Enable(ctx, sd, dir, s); err != nil { // unchanged: no restart
		t.Fatal(err)
	}
	s.Every = time.Hour
	if err := Enable(ctx, sd, dir, s); err != nil { // changed: restart
		t.Fatal(err)
	}
	timer := filepath.Join(dir, TimerName)
	want := []string{"enable-now " + timer, "enable-now " + timer, "enable-now " + timer, "restart " + TimerName}
	if got := sd.Called(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %v\nwant    %v", got, want)
	}
	b, _ := os.ReadFile(timer)
	if !strings.Contains(string(b), "OnUnitActiveSec=1h") {
		t.Errorf("timer:\n%s", b)
	}
	sd.Calls = nil
	if done, err := Disable(ctx, sd, dir); err != nil || !done {
		t.Fatalf("disable: %v, %v", done, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("units left: %v", left)
	}
	if want := []string{"disable-now " + TimerName, "daemon-reload"}; strings.Join(sd.Called(), "|") != strings.Join(want, "|") {
		t.Errorf("calls = %v", sd.Called())
	}
	if done, err := Disable(ctx, sd, dir); err != nil || done {
		t.Errorf("second disable: %v, %v", done, err)
	}
}
