package renew

import (
	"fmt"
	"io"

	"github.com/kubestrap/kubestrap/certs"
)

// WriteText says, before renew changes anything, which PKI it renews and
// for how long, and where those came from: a wrong cluster setting shows
// here first.
func (s Settings) WriteText(out io.Writer) {
	fmt.Fprintf(out, "[renew] certificates in %s; new ones valid for %s (from %s)\n", s.CertDir,
		certs.ShortDuration(s.Validity), s.Source)
}
