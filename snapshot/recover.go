package snapshot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/kubestrap/kubestrap/staticpods"
)

// restoreOp names a restore in the park journal.
const restoreOp = "etcd snapshot restore"

// Recover finds a park that a killed run left in parkDir and finishes or
// rolls it back, then starts the parked pods again. It returns what it did
// ("" when there was nothing). A restore killed before its swap is rolled
// back: the half-written new data dir (kubestrap's own) is removed and the
// old data is where it was, or is moved back. One killed after the swap
// is finished: the restored data stays. Either way no etcd data is deleted
// that the journal does not name as the restore's own.
func Recover(parkDir string, out io.Writer) (string, error) {
	p, err := staticpods.FindPark(parkDir)
	if err != nil || p == nil {
		return "", err
	}
	j := p.Journal
	outcome := "its manifests were put back"
	if j.Operation == restoreOp {
		if outcome, err = recoverRestore(j); err != nil {
			return "", fmt.Errorf("recover the %s killed at step %q: %w (the journal is %s)", j.Operation, j.Step, err, parkDir)
		}
	}
	if err := p.Unpark(); err != nil {
		return "", err
	}
	return fmt.Sprintf("found a %s that did not finish (started %s, killed at step %q): %s; %s were started again",
		j.Operation, j.Started.Local().Format(time.DateTime), j.Step, outcome, listOr(j.Components)), nil
}

func recoverRestore(j staticpods.Journal) (string, error) {
	dataDir, fresh, old := j.Data["dataDir"], j.Data["fresh"], j.Data["old"]
	if j.Step == "swapped" {
		return "FINISHED: the restored data of " + j.Data["file"] + " is in " + dataDir, nil
	}
	if fresh != "" && exists(fresh) {
		if err := os.RemoveAll(fresh); err != nil {
			return "", err
		}
	}
	if dataDir != "" && old != "" && !exists(dataDir) && exists(old) {
		if err := os.Rename(old, dataDir); err != nil {
			return "", err
		}
		return "ROLLED BACK: the data that was in " + dataDir + " is back in place", nil
	}
	return "ROLLED BACK: etcd's data in " + or(dataDir, "its data dir") + " was not touched", nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

func listOr(s []string) string {
	if len(s) == 0 {
		return "no pods"
	}
	out := s[0]
	for _, x := range s[1:] {
		out += " and " + x
	}
	return out
}
