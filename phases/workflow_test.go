package phases

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type trace struct{ ran []string }

func leaf(t *trace, name string, err error) Phase {
	return Phase{Name: name, Run: func(context.Context, Data) (string, error) { t.ran = append(t.ran, name); return "ok " + name, err }}
}

func tree(t *trace, failAt string) []Phase {
	mk := func(n string) Phase {
		var err error
		if n == failAt {
			err = errors.New("boom")
		}
		return leaf(t, n, err)
	}
	parent := Phase{Name: "certs", Phases: []Phase{mk("ca"), mk("apiserver")},
		Run: func(context.Context, Data) (string, error) { t.ran = append(t.ran, "certs(all)"); return "all", nil }}
	return []Phase{mk("preflight"), parent, {Name: "control-plane", Phases: []Phase{mk("apiserver-pod"), mk("scheduler")}},
		{Name: "optional", RunIf: func(Data) (bool, error) { return false, nil }, Run: func(context.Context, Data) (string, error) {
			t.ran = append(t.ran, "optional")
			return "", nil
		}}}
}

func fixedClock() func() time.Time {
	now := time.Unix(0, 0)
	return func() time.Time { now = now.Add(250 * time.Millisecond); return now }
}

func TestRunOrderAndOutput(t *testing.T) {
	tr := &trace{}
	var out bytes.Buffer
	r := &Runner{Command: "init", Phases: tree(tr, ""), Out: &out, Now: fixedClock()}
	if err := r.Run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.ran, ","); got != "preflight,certs(all),apiserver-pod,scheduler" {
		t.Errorf("ran %s", got)
	}
	if !strings.Contains(out.String(), "[certs] all (250ms)\n") || !strings.Contains(out.String(), "[control-plane/scheduler] ok scheduler") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestSkipChildRunsSiblingsIndividually(t *testing.T) {
	tr := &trace{}
	var out bytes.Buffer
	r := &Runner{Command: "init", Phases: tree(tr, ""), Out: &out, Skip: []string{"certs/ca", "preflight"}}
	if err := r.Run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.ran, ","); got != "apiserver,apiserver-pod,scheduler" {
		t.Errorf("ran %s", got)
	}
	if !strings.Contains(out.String(), "[certs/ca] skipped") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestUnknownSkipIsAnError(t *testing.T) {
	r := &Runner{Command: "init", Phases: tree(&trace{}, ""), Out: &bytes.Buffer{}, Skip: []string{"cert"}}
	err := r.Run(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "unknown phase(s) in --skip-phases: cert") {
		t.Errorf("got %v", err)
	}
}

func TestFailureNamesPhaseAndResume(t *testing.T) {
	tr := &trace{}
	r := &Runner{Command: "init", Phases: tree(tr, "scheduler"), Out: &bytes.Buffer{}}
	err := r.Run(ctx, nil)
	var pe *PhaseError
	if !errors.As(err, &pe) || pe.Path != "control-plane/scheduler" {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "kubestrap init phase control-plane/scheduler") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("message %q", err)
	}
}

func TestRunPhaseByPath(t *testing.T) {
	tr := &trace{}
	r := &Runner{Command: "init", Phases: tree(tr, ""), Out: &bytes.Buffer{}}
	if err := r.RunPhase(ctx, "certs/apiserver", nil); err != nil {
		t.Fatal(err)
	}
	if err := r.RunPhase(ctx, "control-plane", nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tr.ran, ","); got != "apiserver,apiserver-pod,scheduler" {
		t.Errorf("ran %s", got)
	}
	if err := r.RunPhase(ctx, "certs/nope", nil); err == nil {
		t.Error("unknown phase accepted")
	}
	want := "preflight,certs,certs/ca,certs/apiserver,control-plane,control-plane/apiserver-pod,control-plane/scheduler,optional"
	if got := strings.Join(r.Paths(), ","); got != want {
		t.Errorf("paths %s", got)
	}
}

var ctx = context.Background()

func TestCancelledRunSaysInterruptedAndHowToResume(t *testing.T) {
	c, cancel := context.WithCancel(context.Background())
	ran := []string{}
	r := &Runner{Command: "join", Out: &bytes.Buffer{}, Phases: []Phase{
		{Name: "discovery", Run: func(ctx context.Context, _ Data) (string, error) {
			ran = append(ran, "discovery")
			cancel() // Ctrl-C while the phase waits
			<-ctx.Done()
			return "", ctx.Err()
		}},
		{Name: "kubelet-start", Run: func(context.Context, Data) (string, error) {
			ran = append(ran, "kubelet-start")
			return "", nil
		}},
	}}
	err := r.Run(c, nil)
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "phase discovery interrupted") ||
		!strings.Contains(err.Error(), "kubestrap join phase discovery") {
		t.Fatalf("err = %v", err)
	}
	if strings.Join(ran, ",") != "discovery" {
		t.Errorf("ran %v after the interrupt", ran)
	}
}
