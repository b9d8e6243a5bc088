package snapshot

import (
	"strings"
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// A snapshot without a sidecar is still listed, with dashes.
func TestWriteListWithoutSidecar(t *testing.T) {
	var b strings.Builder
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := WriteList(&b, []Entry{{Path: "/s/a.db", Size: 2048, ModTime: at}}); err != nil {
		t.Fatal(err)
	}
	want := "FILE     TAKEN                    SIZE     REVISION  MEMBER  KUBERNETES  SHA256\n" +
		"/s/a.db  2026-01-02 03:04:05 UTC  2.0 KiB  0         -       -           (no sidecar)\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}
