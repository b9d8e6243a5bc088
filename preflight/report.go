package preflight

import (
	"fmt"
	"io"
)

// Report prints the warnings and ignored errors of results and returns
// the summary line; init and join share it.
func Report(out io.Writer, results []Result) string {
	counts := map[Status]int{}
	for _, r := range results {
		counts[r.Status]++
		for _, w := range r.Warnings {
			fmt.Fprintf(out, "[preflight] WARNING %s: %s\n", r.Name, w)
		}
		if r.Status == Ignored {
			for _, e := range r.Errors {
				fmt.Fprintf(out, "[preflight] IGNORED %s: %s\n", r.Name, e)
			}
		}
	}
	return fmt.Sprintf("%d checks: %d ok, %d warnings, %d ignored, %d errors", len(results),
		counts[OK], counts[Warning], counts[Ignored], counts[Failed])
}
