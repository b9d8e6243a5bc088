package preflight

import (
	"strings"
	"testing"
)

// A message over several lines shows its first line in the table and in
// full below it; the info comes before errors and warnings.
func TestWriteTableShowsLongMessagesBelow(t *testing.T) {
	var b strings.Builder
	WriteTable(&b, []Result{{Name: "Swap", Status: "error", Errors: []string{"swap is on\nrun swapoff -a"}, Info: "found"},
		{Name: "NumCPU", Status: "ok"}}, "cp-1", "10.0.0.1", "given")
	want := "node cp-1, advertise address 10.0.0.1 (given)\n\n" +
		"CHECK   STATUS  DETAILS\n" +
		"Swap    error   found\n" +
		"                swap is on\n" +
		"NumCPU  ok      \n" +
		"\nSwap:\n  swap is on\nrun swapoff -a\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}
