package config

// InitDefaultsYAML is the default InitConfiguration and
// ClusterConfiguration as a config file (`config print init-defaults`),
// to start one from.
func InitDefaultsYAML() ([]byte, error) {
	c := &Init{}
	SetInitDefaults(c)
	return MarshalInit(c)
}

// JoinDefaultsYAML is the default JoinConfiguration as a config file
// (`config print join-defaults`). Its discovery values are examples to
// replace: a join needs them, so a file without them would not load.
func JoinDefaultsYAML() ([]byte, error) {
	c := &JoinConfiguration{Discovery: Discovery{BootstrapToken: &BootstrapTokenDiscovery{
		Token: "abcdef.0123456789abcdef", APIServerEndpoint: "192.168.56.10:6443",
		CACertHashes: []string{"sha256:<hash printed by kubestrap init>"}}}}
	SetJoinDefaults(c)
	return MarshalJoin(c)
}

// ValidateFile loads the config file at path as a join or an init
// configuration, whichever it holds, and returns what kubestrap ignores in
// it (kubeadm's fields it lacks) with the first problem found.
func ValidateFile(path string) ([]string, error) {
	docs, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if docs.Join != nil {
		c, err := LoadJoin(path, nil)
		if err != nil {
			return nil, err
		}
		return c.Warnings, nil
	}
	c, err := LoadInit(path, nil)
	if err != nil {
		return nil, err
	}
	return c.Warnings, nil
}
