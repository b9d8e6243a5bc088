package renew

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/kubestrap/kubestrap/golden"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/systemd/systemdtest"
)

func TestUnitsGolden(t *testing.T) {
	for name, opts := range map[string][]*unit.UnitOption{
		layout.RenewServiceUnit: ServiceOptions("/opt/kubestrap/kubestrap"),
		layout.RenewTimerUnit:   TimerOptions(),
	} {
		got, err := io.ReadAll(unit.Serialize(opts))
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", name), got)
	}
}

func TestEnableDisable(t *testing.T) {
	n := newNode(t)
	sd := &systemdtest.Fake{}
	a := Auto{Systemd: sd, UnitDir: t.TempDir(), Binary: "/opt/kubestrap/kubestrap", CertDir: n.certDir, KubeDir: n.kubeDir}
	timer := filepath.Join(a.UnitDir, layout.RenewTimerUnit)
	if _, err := a.Enable(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"daemon-reload", "enable " + timer, "restart " + layout.RenewTimerUnit}
	if got := sd.Called(); !slices.Equal(got, want) {
		t.Errorf("first enable: %v, want %v", got, want)
	}
	svc, _ := os.ReadFile(filepath.Join(a.UnitDir, layout.RenewServiceUnit))
	if !strings.Contains(string(svc), "ExecStart=/opt/kubestrap/kubestrap certs renew all --expiring-within 720h\n") {
		t.Errorf("service:\n%s", svc)
	}
	// Enabling again changes no unit: the timer is only started (a no-op
	// when it runs), so its schedule is not reset.
	sd.Calls = nil
	if _, err := a.Enable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sd.Called(); got[len(got)-1] != "start "+layout.RenewTimerUnit {
		t.Errorf("second enable: %v", got)
	}

	sd.Calls = nil
	if _, err := a.Disable(context.Background()); err != nil {
		t.Fatal(err)
	}
	want = []string{"stop " + layout.RenewTimerUnit, "disable " + layout.RenewTimerUnit, "daemon-reload"}
	if got := sd.Called(); !slices.Equal(got, want) {
		t.Errorf("disable: %v, want %v", got, want)
	}
	if entries, _ := os.ReadDir(a.UnitDir); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
	sd.Calls = nil
	if msg, err := a.Disable(context.Background()); err != nil || !strings.Contains(msg, "not enabled") || len(sd.Called()) != 0 {
		t.Errorf("second disable: %q %v %v", msg, err, sd.Called())
	}
}

func TestEnableRefusesANodeWithoutControlPlaneCertificates(t *testing.T) {
	dir := t.TempDir()
	sd := &systemdtest.Fake{}
	a := Auto{Systemd: sd, UnitDir: filepath.Join(dir, "units"), Binary: "/k", CertDir: filepath.Join(dir, "pki"), KubeDir: dir}
	if _, err := a.Enable(context.Background()); !errors.Is(err, ErrNotControlPlane) {
		t.Errorf("err = %v", err)
	}
	if len(sd.Called()) != 0 || exists(a.UnitDir) {
		t.Error("a refused enable changed something")
	}
}

func TestStatus(t *testing.T) {
	n := newNode(t)
	last := time.Date(2026, 3, 1, 0, 12, 0, 0, time.UTC)
	sd := &systemdtest.Fake{FileState: "enabled", LastTrigger: last, NextElapse: last.Add(24 * time.Hour)}
	a := Auto{Systemd: sd, UnitDir: t.TempDir(), Binary: "/opt/kubestrap/kubestrap", CertDir: n.certDir, KubeDir: n.kubeDir}
	if s, err := a.Status(context.Background()); err != nil || s.Enabled || len(sd.Called()) != 0 {
		t.Errorf("before enable: %+v %v", s, err)
	}
	if _, err := a.Enable(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := a.Status(context.Background())
	if err != nil || !s.Enabled || s.Active != "active" || !s.LastRun.Equal(last) || s.Command != Command(a.Binary) {
		t.Errorf("status %+v %v", s, err)
	}
	var out bytes.Buffer
	s.WriteText(&out)
	for _, want := range []string{"auto-renew: enabled", "last run:   2026-03-01 00:12:00 UTC", "next run:   2026-03-02"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, out.String())
		}
	}
}
