package certs

import "fmt"

// Summarize is the phase line of a set of results written to dir.
func Summarize(res []Result, dir string) string {
	n := map[Action]int{}
	for _, r := range res {
		n[r.Action]++
	}
	msg := fmt.Sprintf("%d generated, %d reused in %s", n[Generated], n[Reused], dir)
	if r := n[Regenerated]; r > 0 {
		msg += fmt.Sprintf(" (%d regenerated after an interrupted write)", r)
	}
	return msg
}
