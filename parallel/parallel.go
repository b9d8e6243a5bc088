// Package parallel runs independent pieces of work at once and reports every
// failure, not only the first: a run of kubestrap names all the broken
// files, API objects or hosts together.
package parallel

import (
	"errors"
	"sync"
)

// Do runs fn(0) ... fn(n-1) at once, waits for all of them and joins their
// errors in index order.
func Do(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
