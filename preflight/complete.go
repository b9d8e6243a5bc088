package preflight

import (
	"strings"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/node"
)

// CompleteForReport fills the node name and advertise address like init
// does, so that `kubestrap preflight` checks what init would. It returns
// how the address was chosen; a detection failure becomes that note
// ("ERROR: ...") rather than an error, because the report must still print.
func CompleteForReport(c *config.Init, e *node.Host) string {
	if c.NodeRegistration.Name == "" {
		if h, err := e.Hostname(); err == nil {
			c.NodeRegistration.Name = strings.ToLower(h)
		}
	}
	if c.LocalAPIEndpoint.AdvertiseAddress != "" {
		return "given"
	}
	choice, err := node.DetectAdvertiseAddress(e)
	if err != nil {
		return "ERROR: " + err.Error()
	}
	c.LocalAPIEndpoint.AdvertiseAddress = choice.Addr.String()
	return choice.Note
}
