package golden

import (
	"path/filepath"
	"strings"
	"testing"
)

type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) { r.errs = append(r.errs, format) }

func TestCheckReportsTheFirstDifferentLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	*update = true
	Check(t, path, []byte("a\nb\n"))
	*update = false
	Check(t, path, []byte("a\nb\n"))
	r := &recorder{TB: t}
	Check(r, path, []byte("a\nc\n"))
	if len(r.errs) != 1 {
		t.Fatalf("a changed line was not reported: %v", r.errs)
	}
	if got := FirstDiff([]byte("a\nc\n"), []byte("a\nb\n")); !strings.Contains(got, `line 2: got "c", want "b"`) {
		t.Errorf("FirstDiff: %s", got)
	}
}
