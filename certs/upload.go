package certs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// uploadFiles are the files, relative to the certificate dir, that
// `init --upload-certs` shares with joining control-plane nodes: kubeadm's
// copycerts list for a stacked etcd (kubestrap has no external etcd). The
// leaf certificates are not shared: every node makes its own.
var uploadFiles = []string{
	"ca.crt", "ca.key",
	"front-proxy-ca.crt", "front-proxy-ca.key",
	"sa.pub", "sa.key",
	"etcd/ca.crt", "etcd/ca.key",
}

// optionalUploadFiles are shared too, when the uploading node has them: a
// cluster without secrets encryption (or made by kubeadm) has none, and
// its joins must not ask for one.
var optionalUploadFiles = []string{"encryption-config.yaml"}

// SharedFiles are the files every control plane has the same copy of
// (the CAs and the service-account key), relative to the certificates dir:
// what upload-certs shares and a control-plane join needs.
func SharedFiles() []string { return append([]string(nil), uploadFiles...) }

// uploadSecretKey is the Secret data key of a file: kubeadm replaces the
// slashes of the relative path with dashes ("etcd/ca.crt" -> "etcd-ca.crt").
func uploadSecretKey(file string) string { return strings.ReplaceAll(file, "/", "-") }

// certificateKeySize is the length of a certificate key: AES-256.
const certificateKeySize = 32

// NewCertificateKey returns a new random certificate key, hex-encoded as
// kubeadm prints it (64 characters).
func NewCertificateKey() (string, error) {
	b := make([]byte, certificateKeySize)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// CheckCertificateKey says whether keyHex has the form of a certificate
// key, so that callers can refuse a typo before touching the cluster.
func CheckCertificateKey(keyHex string) error {
	_, err := decodeCertificateKey(keyHex)
	return err
}

// ErrWrongCertificateKey means the uploaded certificates do not decrypt
// with the given key. AES-GCM cannot tell a wrong key from damaged data,
// and a wrong key is by far the likelier.
var ErrWrongCertificateKey = errors.New("the certificate key does not decrypt the uploaded certificates: " +
	"use the key printed by `kubestrap init --upload-certs`, or upload them again with " +
	"`kubestrap init phase upload-certs --upload-certs --certificate-key K`")

// EncryptForUpload reads the shared CA keys, the service-account key pair
// and the front-proxy and etcd CAs from certDir and encrypts each with
// AES-256-GCM under the certificate key, returning the data of the
// kubeadm-certs Secret in kubeadm's format. A missing file gets an empty
// entry, as in kubeadm, whose join requires every key to be present and
// skips the empty ones.
func EncryptForUpload(certDir, certificateKeyHex string) (map[string][]byte, error) {
	gcm, err := newGCM(certificateKeyHex)
	if err != nil {
		return nil, err
	}
	data := make(map[string][]byte, len(uploadFiles)+len(optionalUploadFiles))
	for _, f := range append(SharedFiles(), optionalUploadFiles...) {
		plain, found, err := readOptional(filepath.Join(certDir, f))
		if err != nil {
			return nil, err
		}
		if !found {
			// An optional file's entry is left out: the Secret is then
			// kubeadm's exactly.
			if !slices.Contains(optionalUploadFiles, f) {
				data[uploadSecretKey(f)] = []byte{}
			}
			continue
		}
		if data[uploadSecretKey(f)], err = seal(gcm, plain); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// seal encrypts with a fresh random nonce and prepends it to the sealed
// data: kubeadm's layout, nonce || ciphertext || tag.
func seal(gcm cipher.AEAD, plain []byte) ([]byte, error) {
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

// DecryptDownloaded decrypts the data of a kubeadm-certs Secret and writes
// the shared files into certDir, returning their paths. Every entry is
// decrypted and checked before the first file is written, so a wrong key
// or a damaged entry leaves certDir as it was.
func DecryptDownloaded(data map[string][]byte, certificateKeyHex, certDir string) ([]string, error) {
	gcm, err := newGCM(certificateKeyHex)
	if err != nil {
		return nil, err
	}
	plain, err := openAll(gcm, data)
	if err != nil {
		return nil, err
	}
	files, err := downloadedFiles(plain, certDir)
	if err != nil {
		return nil, err
	}
	return writeDownloaded(certDir, files)
}

// openAll decrypts every non-empty entry, as kubeadm does, so that an entry
// sealed under another key is an error even when kubestrap ignores it.
func openAll(gcm cipher.AEAD, data map[string][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(data))
	for name, sealed := range data {
		if len(sealed) == 0 {
			out[name] = nil
			continue
		}
		if len(sealed) < gcm.NonceSize() {
			return nil, fmt.Errorf("uploaded certificate %s is damaged: shorter than its nonce", name)
		}
		nonce, ct := sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():]
		p, err := gcm.Open(nil, nonce, ct, nil)
		if err != nil {
			return nil, fmt.Errorf("uploaded certificate %s: %w", name, ErrWrongCertificateKey)
		}
		out[name] = p
	}
	return out, nil
}

// downloadedFiles picks the shared files out of the decrypted entries.
// Every one must be present, as kubeadm requires; an empty entry (a file
// the uploading node lacked) is skipped. Keys come last so that a download
// interrupted midway never leaves a CA key without its certificate, which
// Ensure would take for an interrupted generation and replace with a new CA.
func downloadedFiles(plain map[string][]byte, certDir string) ([]file, error) {
	var files []file
	for _, f := range uploadFiles {
		b, ok := plain[uploadSecretKey(f)]
		if !ok {
			return nil, fmt.Errorf("the uploaded certificates lack %s: upload them again with "+
				"`kubestrap init phase upload-certs --upload-certs` from a stacked-etcd control-plane node", uploadSecretKey(f))
		}
		if len(b) == 0 {
			continue
		}
		if blk, _ := pem.Decode(b); blk == nil {
			return nil, fmt.Errorf("uploaded certificate %s is not PEM data", uploadSecretKey(f))
		}
		mode := CertMode
		if strings.HasSuffix(f, ".key") {
			mode = KeyMode
		}
		files = append(files, file{filepath.Join(certDir, f), b, mode})
	}
	for _, f := range optionalUploadFiles {
		if b := plain[uploadSecretKey(f)]; len(b) > 0 {
			files = append(files, file{filepath.Join(certDir, f), b, KeyMode})
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].mode != KeyMode && files[j].mode == KeyMode })
	return files, nil
}

// writeDownloaded writes each file atomically (synced temp file, rename)
// and creates the etcd subdirectory the files need.
func writeDownloaded(certDir string, files []file) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(certDir, "etcd"), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", certDir, err)
	}
	paths := make([]string, 0, len(files))
	for _, f := range files {
		if err := writeOne(f); err != nil {
			return paths, err
		}
		paths = append(paths, f.path)
	}
	return paths, nil
}

// newGCM makes the AES-256-GCM cipher of a certificate key, with Go's
// standard 12-byte nonce as kubeadm uses.
func newGCM(keyHex string) (cipher.AEAD, error) {
	key, err := decodeCertificateKey(keyHex)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// decodeCertificateKey accepts only AES-256 keys: kubeadm would take the
// shorter AES key sizes too, but neither tool ever prints one, so a short
// key is a truncated paste. The key is never echoed: it is a secret.
func decodeCertificateKey(keyHex string) ([]byte, error) {
	key, err := hex.DecodeString(keyHex)
	if err != nil || len(key) != certificateKeySize {
		return nil, errors.New("malformed certificate key: it must be 64 hex characters (an AES-256 key); " +
			"`kubestrap certs certificate-key` prints a new one")
	}
	return key, nil
}
