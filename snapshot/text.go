package snapshot

import (
	"fmt"
	"io"
	"strings"
)

// WriteText says what `etcd snapshot save` did: the file with its size,
// revision and hash, how long it took (took, formatted by the caller like
// every phase's), then each snapshot that --retain removed.
func (s *Saved) WriteText(out io.Writer, retain int, took string) {
	i := s.Info
	fmt.Fprintf(out, "[snapshot] saved %s: %s, revision %d, sha256 %s (%s)\n", s.Path, Size(i.Size), i.Revision,
		i.SHA256, took)
	for _, r := range s.Pruned {
		fmt.Fprintf(out, "[snapshot] removed %s (--retain %d)\n", r, retain)
	}
}

// WriteNext tells the admin what the other control-plane nodes must do
// after a restore made a new cluster without them; nothing when there
// were none.
func (r *Result) WriteNext(out io.Writer) {
	if len(r.OtherMembers) > 0 {
		fmt.Fprintf(out, "next: on each other control-plane node (%s) run `kubestrap reset`, then join it again "+
			"with `kubestrap join ... --control-plane`\n", strings.Join(r.OtherMembers, ", "))
	}
}

// WriteText says what an enabled schedule does, and where systemd shows
// its next run.
func (s Schedule) WriteText(out io.Writer) error {
	_, err := fmt.Fprintf(out, "[schedule] %s saves a snapshot every %s into %s, keeping the newest %d "+
		"(`systemctl list-timers %s` shows the next run)\n", TimerName, Span(s.Every), s.Dir, s.Retain, TimerName)
	return err
}

// WriteDisabled says what `schedule --disable` did; done is what Disable
// returned. The snapshots the schedule saved always stay.
func WriteDisabled(out io.Writer, done bool) {
	if done {
		fmt.Fprintf(out, "[schedule] disabled and removed %s; saved snapshots stay\n", TimerName)
	} else {
		fmt.Fprintln(out, "[schedule] no schedule to disable")
	}
}
