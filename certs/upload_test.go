package certs

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// kubeadmSecretKeys are the data keys of kubeadm's kubeadm-certs Secret for
// a local etcd, copied from copycerts.certsToTransfer and
// certOrKeyNameToSecretName (k8s.io/kubernetes v1.35.4), sorted.
var kubeadmSecretKeys = []string{
	"ca.crt", "ca.key", "etcd-ca.crt", "etcd-ca.key",
	"front-proxy-ca.crt", "front-proxy-ca.key", "sa.key", "sa.pub",
}

// kubeadmFiles maps each data key to its file under the certificate dir.
var kubeadmFiles = map[string]string{
	"ca.crt": "ca.crt", "ca.key": "ca.key", "etcd-ca.crt": "etcd/ca.crt", "etcd-ca.key": "etcd/ca.key",
	"front-proxy-ca.crt": "front-proxy-ca.crt", "front-proxy-ca.key": "front-proxy-ca.key",
	"sa.key": "sa.key", "sa.pub": "sa.pub",
}

// kubeadmEncrypt and kubeadmDecrypt reimplement kubeadm's
// util/crypto.EncryptBytes and DecryptBytes independently of upload.go:
// AES-GCM under the raw key, the random nonce prepended to the sealed data.
func kubeadmEncrypt(t *testing.T, data, key []byte) []byte {
	t.Helper()
	gcm := testGCM(t, key)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	return gcm.Seal(nonce, nonce, data, nil)
}

func kubeadmDecrypt(t *testing.T, data, key []byte) []byte {
	t.Helper()
	gcm := testGCM(t, key)
	out, err := gcm.Open(nil, data[:gcm.NonceSize()], data[gcm.NonceSize():], nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testGCM(t *testing.T, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return gcm
}

func newTestKey(t *testing.T) (string, []byte) {
	t.Helper()
	k, err := NewCertificateKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(k)
	return k, raw
}

// uploadPKI generates a PKI (ECDSA, the fast algorithm) and returns its dir.
func uploadPKI(t *testing.T) string {
	t.Helper()
	c := testConfig(t, "ECDSA-P256")
	p := New(c, filepath.Join(t.TempDir(), "pki"))
	if _, err := p.EnsureAll(Tree(c)); err != nil {
		t.Fatal(err)
	}
	return p.Dir
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestUploadRoundTrip(t *testing.T) {
	src := uploadPKI(t)
	keyHex, key := newTestKey(t)
	data, err := EncryptForUpload(src, keyHex)
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(data); !reflect.DeepEqual(got, kubeadmSecretKeys) {
		t.Fatalf("data keys %v, kubeadm's are %v", got, kubeadmSecretKeys)
	}
	for name, sealed := range data {
		plain, err := os.ReadFile(filepath.Join(src, kubeadmFiles[name]))
		if err != nil {
			t.Fatal(err)
		}
		// kubeadm's layout: 12-byte nonce, ciphertext, 16-byte tag.
		if len(sealed) != 12+len(plain)+16 || bytes.Contains(sealed, plain[:20]) {
			t.Errorf("%s: %d sealed bytes for %d plain bytes", name, len(sealed), len(plain))
		}
		if !bytes.Equal(kubeadmDecrypt(t, sealed, key), plain) {
			t.Errorf("%s: kubeadm's scheme does not decrypt it", name)
		}
	}
	dst := filepath.Join(t.TempDir(), "pki")
	paths, err := DecryptDownloaded(data, keyHex, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(kubeadmSecretKeys) {
		t.Errorf("wrote %v", paths)
	}
	// Keys last: an interrupted download must not leave a CA key alone.
	for i := 1; i < len(paths); i++ {
		if strings.HasSuffix(paths[i-1], ".key") && !strings.HasSuffix(paths[i], ".key") {
			t.Errorf("%s written before %s", paths[i-1], paths[i])
		}
	}
	for _, f := range kubeadmFiles {
		checkDownloaded(t, filepath.Join(src, f), filepath.Join(dst, f))
	}
	if fi, err := os.Stat(filepath.Join(dst, "etcd")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("etcd dir: %v %v", fi, err)
	}
}

// checkDownloaded compares a written file with the original and checks its
// mode: keys are private, certificates and sa.pub public.
func checkDownloaded(t *testing.T, src, dst string) {
	t.Helper()
	want, _ := os.ReadFile(src)
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s: %v", dst, src, err)
	}
	mode := CertMode
	if strings.HasSuffix(dst, ".key") {
		mode = KeyMode
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v (%v)", dst, fi.Mode().Perm(), mode, err)
	}
}

// Nothing is written when an entry does not decrypt: not even certDir.
func TestDownloadWrongKey(t *testing.T) {
	src := uploadPKI(t)
	keyHex, _ := newTestKey(t)
	data, err := EncryptForUpload(src, keyHex)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newTestKey(t)
	dst := filepath.Join(t.TempDir(), "pki")
	_, err = DecryptDownloaded(data, other, dst)
	if !errors.Is(err, ErrWrongCertificateKey) || !strings.Contains(err.Error(), "init phase upload-certs --upload-certs") {
		t.Fatalf("wrong key: %v", err)
	}
	// One bad entry among good ones fails the whole download.
	_, otherRaw := newTestKey(t)
	data["sa.pub"] = kubeadmEncrypt(t, []byte("-----BEGIN PUBLIC KEY-----\n"), otherRaw)
	if _, err := DecryptDownloaded(data, keyHex, dst); !errors.Is(err, ErrWrongCertificateKey) {
		t.Fatalf("one entry under another key: %v", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s was created: %v", dst, err)
	}
}

func TestMalformedCertificateKey(t *testing.T) {
	good, _ := newTestKey(t)
	for _, k := range []string{"", "abc", good[:32], good + "00", strings.Repeat("zz", 32)} {
		_, err := EncryptForUpload(t.TempDir(), k)
		if err == nil || errors.Is(err, ErrWrongCertificateKey) ||
			!strings.Contains(err.Error(), "64 hex characters") || !strings.Contains(err.Error(), "kubestrap certs certificate-key") {
			t.Errorf("key %q: %v", k, err)
		}
		if _, err := DecryptDownloaded(nil, k, t.TempDir()); err == nil || errors.Is(err, ErrWrongCertificateKey) {
			t.Errorf("download with key %q: %v", k, err)
		}
	}
}

// A blob sealed by kubeadm's scheme, computed outside Go (Python's
// cryptography AESGCM, key 00..1f, nonce a0..ab), pins the wire format:
// nonce || ciphertext || tag, no header, no associated data.
func TestDecryptKubeadmVector(t *testing.T) {
	const keyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	blob, _ := hex.DecodeString("a0a1a2a3a4a5a6a7a8a9aaabcb355100688947f82b2ba7904228949736e51a51c6f26f41b1230b8c14de17" +
		"64b3122ad2cc4721492cbc73a17b1fa39f28692b2916da37536c73261bea34a5f3f1eed12676eca7a1a0a7d235a2e3e1b0b8a6b299cbc8d7" +
		"31983aa1c15070dd26")
	want := "-----BEGIN CERTIFICATE-----\nkubeadm-certs wire format\n-----END CERTIFICATE-----\n"
	gcm, err := newGCM(keyHex)
	if err != nil {
		t.Fatal(err)
	}
	got, err := openAll(gcm, map[string][]byte{"ca.crt": blob})
	if err != nil || string(got["ca.crt"]) != want {
		t.Fatalf("got %q, %v", got["ca.crt"], err)
	}
}

// Secret data sealed by the independent kubeadm reimplementation, with an
// empty entry for a file the uploader lacked, downloads like kubeadm's join:
// the empty entry is skipped, the rest written.
func TestDownloadKubeadmSecret(t *testing.T) {
	src := uploadPKI(t)
	keyHex, key := newTestKey(t)
	data := map[string][]byte{}
	for name, f := range kubeadmFiles {
		plain, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		data[name] = kubeadmEncrypt(t, plain, key)
	}
	data["front-proxy-ca.key"] = nil
	dst := t.TempDir()
	paths, err := DecryptDownloaded(data, keyHex, dst)
	if err != nil || len(paths) != len(kubeadmFiles)-1 {
		t.Fatalf("wrote %v: %v", paths, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "front-proxy-ca.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty entry written: %v", err)
	}
	checkDownloaded(t, filepath.Join(src, "etcd/ca.key"), filepath.Join(dst, "etcd/ca.key"))
	// kubeadm requires every entry to be present, empty or not.
	delete(data, "etcd-ca.crt")
	if _, err := DecryptDownloaded(data, keyHex, t.TempDir()); err == nil || !strings.Contains(err.Error(), "etcd-ca.crt") {
		t.Errorf("missing entry: %v", err)
	}
}

// A file missing on the uploading node gets an empty entry, as in kubeadm.
func TestUploadMissingFile(t *testing.T) {
	src := uploadPKI(t)
	if err := os.Remove(filepath.Join(src, "front-proxy-ca.key")); err != nil {
		t.Fatal(err)
	}
	keyHex, _ := newTestKey(t)
	data, err := EncryptForUpload(src, keyHex)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := data["front-proxy-ca.key"]; !ok || len(v) != 0 || len(data) != len(kubeadmSecretKeys) {
		t.Errorf("missing file: entry %q present %v, %d entries", v, ok, len(data))
	}
}

// The encryption keys travel with the certificates when the uploading node
// has them, and land 0600; kubeadm's entries stay as they were.
func TestUploadEncryptionConfig(t *testing.T) {
	src := uploadPKI(t)
	conf := []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n")
	if err := os.WriteFile(filepath.Join(src, "encryption-config.yaml"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
	keyHex, _ := newTestKey(t)
	data, err := EncryptForUpload(src, keyHex)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != len(kubeadmSecretKeys)+1 || len(data["encryption-config.yaml"]) == 0 {
		t.Fatalf("entries %v", sortedKeys(data))
	}
	dst := t.TempDir()
	if _, err := DecryptDownloaded(data, keyHex, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "encryption-config.yaml"))
	st, serr := os.Stat(filepath.Join(dst, "encryption-config.yaml"))
	if err != nil || serr != nil || string(got) != string(conf) || st.Mode().Perm() != 0o600 {
		t.Errorf("downloaded encryption config %q (%v), mode %v (%v)", got, err, st.Mode(), serr)
	}
}
