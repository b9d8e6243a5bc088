package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubestrap/kubestrap/node"
)

// Backdate is how far before its issue a certificate becomes valid, for
// clock skew between nodes; cfssl backdates init's certificates as much.
const Backdate = 5 * time.Minute

// Reissue signs a certificate for a new key that says what old says: the
// same subject, alternative names and usages, read from old itself rather
// than from a configuration, because a control-plane node that joined has
// none and the certificate on disk is the truth. The new key has old's
// algorithm. It is valid from Backdate before now for validity, but never
// beyond its CA: a certificate cannot be trusted longer than its issuer.
func Reissue(old, ca *x509.Certificate, caKey crypto.Signer, validity time.Duration, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	if !now.Before(ca.NotAfter) {
		return nil, nil, fmt.Errorf("the CA %q expired on %s: leaf certificates cannot be renewed from it; "+
			"a new CA means a new cluster PKI (kubestrap does not rotate CAs)", ca.Subject.CommonName, ca.NotAfter.Format(time.RFC3339))
	}
	algo, err := algorithmOf(old.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	key, err := NewKey(algo)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// RawSubject keeps every attribute of the subject as it was, also
		// those pkix.Name has no field for.
		RawSubject:            old.RawSubject,
		DNSNames:              old.DNSNames,
		IPAddresses:           old.IPAddresses,
		URIs:                  old.URIs,
		EmailAddresses:        old.EmailAddresses,
		KeyUsage:              old.KeyUsage,
		ExtKeyUsage:           old.ExtKeyUsage,
		UnknownExtKeyUsage:    old.UnknownExtKeyUsage,
		BasicConstraintsValid: true,
		NotBefore:             now.Add(-Backdate).UTC(),
		NotAfter:              notAfter.UTC(),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// algorithmOf names the key algorithm of a public key the way the
// configuration's encryptionAlgorithm does.
func algorithmOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch bits := k.N.BitLen(); bits {
		case 3072, 4096:
			return "RSA-" + strconv.Itoa(bits), nil
		}
		return "RSA-2048", nil
	case *ecdsa.PublicKey:
		return "ECDSA-P256", nil
	}
	return "", fmt.Errorf("unsupported public key type %T", pub)
}

// newSerial is a random positive 159-bit serial number: unique without
// state, and within RFC 5280's 20 octets.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 159)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// RenewCert replaces the leaf certificate base (and its key) in the PKI
// directory with one reissued by the CA caBase, and returns the old and the
// new certificate. The pair is written as init writes it (see writePair):
// a crash between the two renames leaves the new key beside the old
// certificate, and running the renewal again repairs that.
func (p *PKI) RenewCert(base, caBase string) (old, renewed *x509.Certificate, err error) {
	certPath := p.CertPath(base)
	if err := cleanTemps(p.KeyPath(base), certPath); err != nil {
		return nil, nil, err
	}
	if old, err = ReadCertFile(certPath); err != nil {
		return nil, nil, err
	}
	ca, caKey, err := p.LoadCA(caBase)
	if err != nil {
		return old, nil, err
	}
	if err := old.CheckSignatureFrom(ca); err != nil {
		return old, nil, fmt.Errorf("%s is not signed by the CA %s: renewing it would change who issued it; "+
			"move it and its key away and run `kubestrap init phase certs` to make it anew", certPath, p.CertPath(caBase))
	}
	renewed, key, err := Reissue(old, ca, caKey, p.Validity, p.Now())
	if err != nil {
		return old, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	return old, renewed, p.write(base, EncodeCert(renewed), key)
}

// RenewKubeconfig replaces the client certificate and key embedded in the
// kubeconfig at path with ones reissued by the CA caBase, after checking
// that the file trusts that CA. The file is rewritten atomically, private
// to root, since it holds the key.
func (p *PKI) RenewKubeconfig(path, caBase string) (old, renewed *x509.Certificate, err error) {
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, nil, err
	}
	user, err := currentUser(kc, path)
	if err != nil {
		return nil, nil, err
	}
	if len(user.ClientCertificateData) == 0 {
		return nil, nil, fmt.Errorf("%s: its client certificate is not embedded (%q): whoever wrote the file renews it",
			path, user.ClientCertificate)
	}
	if old, err = ParseCertPEM(user.ClientCertificateData); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	ca, caKey, err := p.LoadCA(caBase)
	if err != nil {
		return old, nil, err
	}
	if err := old.CheckSignatureFrom(ca); err != nil {
		return old, nil, fmt.Errorf("%s: its client certificate is not signed by %s: it belongs to another cluster; "+
			"move it away and run `kubestrap init phase kubeconfig` to make it anew", path, p.CertPath(caBase))
	}
	renewed, key, err := Reissue(old, ca, caKey, p.Validity, p.Now())
	if err != nil {
		return old, nil, fmt.Errorf("%s: %w", path, err)
	}
	if user.ClientKeyData, err = EncodeKey(key); err != nil {
		return old, nil, err
	}
	user.ClientCertificateData = EncodeCert(renewed)
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return old, nil, err
	}
	return old, renewed, node.WriteFileAtomic(path, data, KeyMode)
}

// currentUser is the credentials of a kubeconfig's current context.
func currentUser(kc *clientcmdapi.Config, path string) (*clientcmdapi.AuthInfo, error) {
	ctx, ok := kc.Contexts[kc.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("%s: no current context", path)
	}
	user, ok := kc.AuthInfos[ctx.AuthInfo]
	if !ok {
		return nil, fmt.Errorf("%s: no user %s", path, ctx.AuthInfo)
	}
	return user, nil
}

// ParseCertPEM returns the first certificate in PEM data that may hold
// other blocks too: the kubelet keeps its rotated client certificate and
// its key in one file, kubelet-client-current.pem.
func ParseCertPEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no CERTIFICATE block in the PEM data")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// ReadCertFile reads the first certificate of a PEM file. A missing file
// is an error that matches fs.ErrNotExist.
func ReadCertFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseCertPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// kubeconfigCertFile is the file a kubeconfig's current user names for
// its client certificate ("" when embedded or unreadable), resolved
// against the kubeconfig's directory as clients resolve it.
func kubeconfigCertFile(path string) string {
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return ""
	}
	user, err := currentUser(kc, path)
	if err != nil || len(user.ClientCertificateData) > 0 || user.ClientCertificate == "" {
		return ""
	}
	if filepath.IsAbs(user.ClientCertificate) {
		return user.ClientCertificate
	}
	return filepath.Join(filepath.Dir(path), user.ClientCertificate)
}
