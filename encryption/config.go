// Package encryption keeps the API server's EncryptionConfiguration: the
// keys that encrypt Secrets before they reach etcd. The file is a shared
// secret of the control planes, like the CA keys: made once at init, sent to
// joining control planes with the uploaded certificates, never rewritten
// while valid (its keys are what decrypts the data already stored).
package encryption

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubestrap/kubestrap/node"
)

// Mode is the file's mode: it holds keys.
const Mode = 0o600

// keySize is 32 bytes: AES-256 for aescbc, and secretbox's only size.
const keySize = 32

// Providers kubestrap generates keys for.
const (
	AESCBC    = "aescbc"
	Secretbox = "secretbox"
)

// Ensure makes sure path holds a valid EncryptionConfiguration for Secrets.
// An existing one is kept as it is, whatever its provider: its keys decrypt
// what etcd holds, and replacing it would make every Secret unreadable. A
// missing one gets a new key of provider, then the identity provider, so
// that Secrets written before encryption was on stay readable.
func Ensure(path, provider string, now time.Time) (created bool, err error) {
	if _, err := Read(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("%w: keep it if the cluster's Secrets were encrypted with it (fix it by hand), "+
			"or move it away if this cluster never used it", err)
	}
	k, err := NewKey(provider, now)
	if err != nil {
		return false, err
	}
	return true, Write(path, []Key{k})
}

// Key is one key of the file: the first one encrypts, all of them decrypt.
type Key struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
	secret   string
}

// NewKey makes a random key of provider, named after the time it was made
// so that a status and etcd's "k8s:enc:aescbc:v1:NAME:" prefixes say which.
func NewKey(provider string, now time.Time) (Key, error) {
	if provider != AESCBC && provider != Secretbox {
		return Key{}, fmt.Errorf("unknown secrets encryption provider %q: use %s or %s", provider, AESCBC, Secretbox)
	}
	b := make([]byte, keySize)
	if _, err := rand.Read(b); err != nil {
		return Key{}, err
	}
	return Key{Provider: provider, Name: "key-" + now.UTC().Format("20060102T150405Z"),
		secret: base64.StdEncoding.EncodeToString(b)}, nil
}

// Write writes keys, in order, then identity, atomically with mode 0600.
func Write(path string, keys []Key) error {
	c := apiserverv1.EncryptionConfiguration{Resources: []apiserverv1.ResourceConfiguration{{
		Resources: []string{"secrets"}}}}
	c.APIVersion, c.Kind = apiserverv1.SchemeGroupVersion.String(), "EncryptionConfiguration"
	r := &c.Resources[0]
	for _, k := range keys {
		r.Providers = append(r.Providers, k.provider())
	}
	r.Providers = append(r.Providers, apiserverv1.ProviderConfiguration{Identity: &apiserverv1.IdentityConfiguration{}})
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return node.WriteFileAtomic(path, b, Mode)
}

func (k Key) provider() apiserverv1.ProviderConfiguration {
	keys := []apiserverv1.Key{{Name: k.Name, Secret: k.secret}}
	if k.Provider == Secretbox {
		return apiserverv1.ProviderConfiguration{Secretbox: &apiserverv1.SecretboxConfiguration{Keys: keys}}
	}
	return apiserverv1.ProviderConfiguration{AESCBC: &apiserverv1.AESConfiguration{Keys: keys}}
}

// AddReadKeys adds keys to the Secrets entry of the file at path, after
// every key it has (so they decrypt and never encrypt) and before identity.
// The rest of the file stays as it was.
func AddReadKeys(path string, keys []Key) error {
	c, err := readConfig(path)
	if err != nil {
		return err
	}
	for i := range c.Resources {
		r := &c.Resources[i]
		if !slices.Contains(r.Resources, "secrets") {
			continue
		}
		at := len(r.Providers)
		if at > 0 && r.Providers[at-1].Identity != nil {
			at--
		}
		add := make([]apiserverv1.ProviderConfiguration, len(keys))
		for j, k := range keys {
			add[j] = k.provider()
		}
		r.Providers = slices.Insert(r.Providers, at, add...)
		b, err := yaml.Marshal(c)
		if err != nil {
			return err
		}
		return node.WriteFileAtomic(path, b, Mode)
	}
	return fmt.Errorf("%s has no entry for secrets", path)
}

func readConfig(path string) (*apiserverv1.EncryptionConfiguration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c apiserverv1.EncryptionConfiguration
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s is not an EncryptionConfiguration: %w", path, err)
	}
	return &c, nil
}

// Read parses path and returns its keys for Secrets, the writing one
// first; it refuses a file the API server would refuse or that leaves
// Secrets unencrypted, naming what is wrong.
func Read(path string) ([]Key, error) {
	c, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	for _, r := range c.Resources {
		if slices.Contains(r.Resources, "secrets") {
			return keysOf(path, r.Providers)
		}
	}
	return nil, fmt.Errorf("%s has no entry for secrets", path)
}

func keysOf(path string, providers []apiserverv1.ProviderConfiguration) ([]Key, error) {
	var keys []Key
	for i, p := range providers {
		var name string
		var ks []apiserverv1.Key
		switch {
		case p.AESCBC != nil:
			name, ks = AESCBC, p.AESCBC.Keys
		case p.Secretbox != nil:
			name, ks = Secretbox, p.Secretbox.Keys
		case p.Identity != nil:
			if i == 0 {
				return nil, fmt.Errorf("%s writes Secrets unencrypted (identity comes first)", path)
			}
			continue
		default:
			return nil, fmt.Errorf("%s: provider %d is none kubestrap manages (aescbc, secretbox, identity)", path, i+1)
		}
		for _, k := range ks {
			if err := checkSecret(name, k.Secret); err != nil {
				return nil, fmt.Errorf("%s: key %s: %w", path, k.Name, err)
			}
			keys = append(keys, Key{Provider: name, Name: k.Name, secret: k.Secret})
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s has no key for secrets", path)
	}
	return keys, nil
}

func checkSecret(provider, s string) error {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return errors.New("its secret is not base64")
	}
	ok := len(b) == keySize || (provider == AESCBC && (len(b) == 16 || len(b) == 24))
	if !ok {
		return fmt.Errorf("its secret is %d bytes; %s wants 32", len(b), provider)
	}
	return nil
}

// Prefix is what etcd's copy of a Secret encrypted with k starts with.
func (k Key) Prefix() string { return "k8s:enc:" + k.Provider + ":v1:" + k.Name + ":" }

// String names the key without its secret.
func (k Key) String() string { return k.Provider + "/" + k.Name }

// KeyOf says which of keys encrypted an etcd value: its name, "identity"
// for plain data, or "unknown" for a key the file no longer has.
func KeyOf(value []byte, keys []Key) string {
	if !strings.HasPrefix(string(value), "k8s:enc:") {
		return "identity"
	}
	for _, k := range keys {
		if strings.HasPrefix(string(value), k.Prefix()) {
			return k.String()
		}
	}
	return "unknown"
}
