package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/kubestrap/kubestrap/encryption"
	"github.com/kubestrap/kubestrap/node"
)

// A snapshot of a cluster that encrypts Secrets is only as good as the
// keys that decrypt them: a restore after a key rotation, or onto a node
// made anew by reset and init, would bring back Secrets no API server can
// read. So a save keeps a copy of the keys beside the snapshot, and a
// restore makes sure the API server has every key the snapshot needs.

// KeysPath is where a snapshot's copy of the encryption keys is (0600).
func KeysPath(file string) string { return file + ".keys.yaml" }

// saveKeys copies the keys file beside the snapshot and returns the keys'
// names for the sidecar. It runs before the snapshot is taken, and a key
// is added to the file before anything is encrypted with it, so the copy
// has every key the snapshot's Secrets were written with.
func saveKeys(keysConf, file string) ([]string, error) {
	if keysConf == "" {
		return nil, nil
	}
	keys, err := encryption.Read(keysConf)
	if err != nil {
		return nil, fmt.Errorf("the API server's encryption keys: %w", err)
	}
	b, err := os.ReadFile(keysConf)
	if err != nil {
		return nil, err
	}
	if err := node.WriteFileAtomic(KeysPath(file), b, encryption.Mode); err != nil {
		return nil, err
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.String()
	}
	return names, nil
}

// ensureKeys gives the API server, before a restore stops anything, every
// key the snapshot's sidecar names: the ones it lacks are taken from the
// snapshot's copy and added after its own, so that they decrypt and never
// encrypt. It refuses when a key is nowhere to be found.
func ensureKeys(keysConf, file string, need []string) (string, error) {
	if len(need) == 0 {
		return "", nil
	}
	if keysConf == "" {
		return "", fmt.Errorf("the snapshot's Secrets are encrypted (keys %v), but this node's API server has no "+
			"encryption configuration: turn secrets encryption on (init with secretsEncryption enabled) first", need)
	}
	have, err := encryption.Read(keysConf)
	if err != nil {
		return "", err
	}
	missing := missingKeys(have, need)
	if len(missing) == 0 {
		return "", nil
	}
	saved, err := encryption.Read(KeysPath(file))
	if err != nil {
		return "", fmt.Errorf("the snapshot needs encryption keys %v that this node lacks, and its copy of them does "+
			"not read (%w): put the file back, or the keys into %s", missing, err, keysConf)
	}
	var add []encryption.Key
	for _, k := range saved {
		if slices.Contains(missing, k.String()) {
			add = append(add, k)
		}
	}
	if len(add) != len(missing) {
		return "", fmt.Errorf("the snapshot needs encryption keys %v; %s has only %d of them", missing, KeysPath(file), len(add))
	}
	if err := encryption.AddReadKeys(keysConf, add); err != nil {
		return "", err
	}
	return fmt.Sprintf("added the snapshot's encryption keys %v to %s (they decrypt; %s still encrypts)",
		missing, keysConf, have[0]), nil
}

func missingKeys(have []encryption.Key, need []string) []string {
	var out []string
	for _, n := range need {
		if !slices.ContainsFunc(have, func(k encryption.Key) bool { return k.String() == n }) {
			out = append(out, n)
		}
	}
	return out
}

// removeKeys removes a pruned snapshot's keys copy.
func removeKeys(file string) error {
	if err := os.Remove(KeysPath(file)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
