package config

import "encoding/json"

// MarshalJSON keeps `taints: []` apart from no taints field, as kubeadm
// does: an empty list means "no taints" (a schedulable one-node cluster),
// an absent one the default for the node's role. omitempty alone would
// drop the empty list from the init record and from the Cluster file's
// configuration, and the node would get the control-plane taint.
func (n NodeRegistrationOptions) MarshalJSON() ([]byte, error) {
	type plain NodeRegistrationOptions
	b, err := json.Marshal(plain(n))
	if err != nil || n.Taints == nil || len(n.Taints) > 0 {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["taints"] = json.RawMessage("[]")
	return json.Marshal(m)
}
