package certs

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	cfconfig "github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	cflog "github.com/cloudflare/cfssl/log"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/parallel"
)

func init() {
	// cfssl logs every signature at info level through the standard logger;
	// kubestrap reports what it did itself, so keep cfssl quiet.
	cflog.Level = cflog.LevelCritical
}

// File modes: keys are private to root, certificates are public.
const (
	KeyMode  fs.FileMode = 0o600
	CertMode fs.FileMode = 0o644
)

// Action says what Ensure did with a certificate.
type Action string

// Actions.
const (
	Generated Action = "generated"
	Reused    Action = "reused"
	// Regenerated means a key was found without its certificate (or sa.key
	// without sa.pub): a crash interrupted the previous write, so the pair
	// was completed or made anew. It is distinct from Generated so that the
	// user sees the recovery.
	Regenerated Action = "regenerated (interrupted write)"
)

// Result reports one certificate.
type Result struct {
	Name   string
	Path   string
	Action Action
}

// PKI makes and checks the certificate tree in Dir.
type PKI struct {
	Dir        string
	Algorithm  string
	Validity   time.Duration
	CAValidity time.Duration
	// Now is the clock used for expiry checks; injectable for tests.
	Now func() time.Time
}

// New returns the PKI for the given config rooted at dir.
func New(c *config.Init, dir string) *PKI {
	return &PKI{Dir: dir, Algorithm: c.Cluster.EncryptionAlgorithm,
		Validity: c.Cluster.CertificateValidityPeriod.Duration, CAValidity: c.Cluster.CACertificateValidityPeriod.Duration,
		Now: time.Now}
}

// CertPath and KeyPath give a spec's file paths.
func (p *PKI) CertPath(base string) string { return filepath.Join(p.Dir, base+".crt") }

// KeyPath gives a spec's key path.
func (p *PKI) KeyPath(base string) string { return filepath.Join(p.Dir, base+".key") }

// EnsureAll makes or reuses every certificate of the tree and the service
// account key pair: CAs in parallel, then all leaves in parallel.
func (p *PKI) EnsureAll(specs []Spec) ([]Result, error) {
	var cas, leaves []Spec
	for _, s := range specs {
		if s.IsCA() {
			cas = append(cas, s)
		} else {
			leaves = append(leaves, s)
		}
	}
	var mu sync.Mutex
	var results []Result
	run := func(list []Spec, extra ...func() (Result, error)) error {
		fns := make([]func() (Result, error), 0, len(list)+len(extra))
		for _, s := range list {
			fns = append(fns, func() (Result, error) { return p.Ensure(s, specs) })
		}
		return runAll(append(fns, extra...), func(r Result) { mu.Lock(); results = append(results, r); mu.Unlock() })
	}
	if err := run(cas, p.EnsureServiceAccountKey); err != nil {
		return results, err
	}
	err := run(leaves)
	sort.Slice(results, func(i, j int) bool { return results[i].Path < results[j].Path })
	return results, err
}

// runAll runs fns at once and joins all their errors, so that one run
// reports every broken file rather than the first.
func runAll(fns []func() (Result, error), done func(Result)) error {
	return parallel.Do(len(fns), func(i int) error {
		r, err := fns[i]()
		if err == nil {
			done(r)
		}
		return err
	})
}

// Ensure makes the certificate of spec, or reuses the one on disk when it is
// valid for spec. An existing certificate that does not fit (another CA,
// missing SANs, expired, key mismatch, no key) is an error naming the file:
// valid or not, kubestrap never overwrites PKI silently. The one exception
// is a key without its certificate, the trace of an interrupted write,
// which is regenerated (see checkInterrupted).
func (p *PKI) Ensure(spec Spec, specs []Spec) (Result, error) {
	res := Result{Name: spec.Name, Path: p.CertPath(spec.BaseName), Action: Reused}
	if err := cleanTemps(p.KeyPath(spec.BaseName), p.CertPath(spec.BaseName)); err != nil {
		return res, err
	}
	cert, key, err := p.load(spec.BaseName)
	if err != nil {
		return res, err
	}
	var ca *x509.Certificate
	var caKey crypto.Signer
	if !spec.IsCA() {
		caSpec, ok := find(specs, spec.CA)
		if !ok {
			return res, fmt.Errorf("%s: unknown CA %q", spec.Name, spec.CA)
		}
		if ca, caKey, err = p.load(caSpec.BaseName); err != nil {
			return res, err
		}
		if ca == nil || caKey == nil {
			return res, fmt.Errorf("%s: CA %s is missing in %s: run `kubestrap init phase certs/%s` first",
				spec.Name, caSpec.Name, p.Dir, caSpec.Name)
		}
	}
	switch {
	case cert == nil && key != nil:
		if err := p.checkInterrupted(spec, specs); err != nil {
			return res, err
		}
		res.Action = Regenerated
	case cert != nil || key != nil:
		return res, p.checkExisting(spec, cert, key, ca)
	default:
		res.Action = Generated
	}
	if spec.IsCA() {
		return res, p.generateCA(spec)
	}
	return res, p.generateLeaf(spec, ca, caKey)
}

// checkInterrupted decides whether a key without its certificate may be
// regenerated. writePair renames the key first, so a lone key is what a
// crash leaves and nothing can have used it yet. For a CA that holds only
// while none of its leaves exist: leaves are made after their CA's
// certificate, so a leaf file proves the CA certificate was there and has
// been removed, and a new CA would silently orphan the leaves.
func (p *PKI) checkInterrupted(spec Spec, specs []Spec) error {
	if !spec.IsCA() {
		return nil
	}
	var deps []string
	for _, s := range specs {
		if s.CA != spec.Name {
			continue
		}
		for _, path := range []string{p.CertPath(s.BaseName), p.KeyPath(s.BaseName)} {
			if exists(path) {
				deps = append(deps, path)
			}
		}
	}
	if len(deps) == 0 {
		return nil
	}
	certPath, keyPath := p.CertPath(spec.BaseName), p.KeyPath(spec.BaseName)
	return fmt.Errorf("%s exists but %s does not, and %s were issued by it: restore the certificate, "+
		"or move %s and the files it issued away and re-run to generate new ones",
		keyPath, certPath, strings.Join(deps, ", "), keyPath)
}

func find(specs []Spec, name string) (Spec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// load reads a cert and its key; either may be nil when its file is absent.
func (p *PKI) load(base string) (*x509.Certificate, crypto.Signer, error) {
	var cert *x509.Certificate
	var key crypto.Signer
	certPath, keyPath := p.CertPath(base), p.KeyPath(base)
	if b, err := os.ReadFile(certPath); err == nil {
		if cert, err = helpers.ParseCertificatePEM(b); err != nil {
			return nil, nil, fmt.Errorf("%s: not a PEM certificate: %w (move it away to regenerate it)", certPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if b, err := os.ReadFile(keyPath); err == nil {
		if key, err = ParseKey(b); err != nil {
			return nil, nil, fmt.Errorf("%s: not a PEM private key: %w (move it away to regenerate it)", keyPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	return cert, key, nil
}

func (p *PKI) checkExisting(spec Spec, cert *x509.Certificate, key crypto.Signer, ca *x509.Certificate) error {
	certPath, keyPath := p.CertPath(spec.BaseName), p.KeyPath(spec.BaseName)
	moveAway := fmt.Sprintf("move %s and %s away and re-run to generate new ones", certPath, keyPath)
	switch {
	case key == nil:
		return fmt.Errorf("%s exists but its key %s does not: restore the key, or %s (external CAs are not supported)",
			certPath, keyPath, moveAway)
	case !samePublicKey(cert.PublicKey, key.Public()):
		return fmt.Errorf("%s does not match its key %s: %s", certPath, keyPath, moveAway)
	case p.Now().After(cert.NotAfter):
		return fmt.Errorf("%s expired on %s: renew it, or %s", certPath, cert.NotAfter.Format(time.RFC3339), moveAway)
	}
	if ca != nil {
		if err := cert.CheckSignatureFrom(ca); err != nil {
			return fmt.Errorf("%s is not signed by the current %s CA: %s", certPath, spec.CA, moveAway)
		}
	}
	if missing := missingHosts(cert, spec.Hosts); len(missing) > 0 {
		return fmt.Errorf("%s lacks the names %s that this configuration needs: %s",
			certPath, strings.Join(missing, ", "), moveAway)
	}
	return nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}

func missingHosts(cert *x509.Certificate, hosts []string) []string {
	var missing []string
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !containsIP(cert.IPAddresses, ip) {
				missing = append(missing, h)
			}
		} else if !contains(cert.DNSNames, h) {
			missing = append(missing, h)
		}
	}
	return missing
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *PKI) generateCA(spec Spec) error {
	key, err := NewKey(p.Algorithm)
	if err != nil {
		return err
	}
	req := &csr.CertificateRequest{CN: spec.CommonName, KeyRequest: nil,
		CA: &csr.CAConfig{Expiry: p.CAValidity.String()}}
	certPEM, _, err := initca.NewFromSigner(req, key)
	if err != nil {
		return fmt.Errorf("%s: create CA: %w", spec.Name, err)
	}
	return p.write(spec.BaseName, certPEM, key)
}

func (p *PKI) generateLeaf(spec Spec, ca *x509.Certificate, caKey crypto.Signer) error {
	key, err := NewKey(p.Algorithm)
	if err != nil {
		return err
	}
	certPEM, err := SignLeaf(key, ca, caKey, Subject{CommonName: spec.CommonName, Organization: spec.Organization,
		Hosts: spec.Hosts, Usages: spec.Usages}, p.Validity)
	if err != nil {
		return fmt.Errorf("%s: %w", spec.Name, err)
	}
	return p.write(spec.BaseName, certPEM, key)
}

// Subject is what a leaf certificate says about its holder.
type Subject struct {
	CommonName   string
	Organization []string
	Hosts        []string
	Usages       []string
}

// SignLeaf issues a certificate for key, signed by the CA, valid for validity
// (backdated five minutes by cfssl for clock skew between nodes).
func SignLeaf(key crypto.Signer, ca *x509.Certificate, caKey crypto.Signer, sub Subject, validity time.Duration) ([]byte, error) {
	names := make([]csr.Name, 0, len(sub.Organization))
	for _, o := range sub.Organization {
		names = append(names, csr.Name{O: o})
	}
	csrPEM, err := csr.Generate(key, &csr.CertificateRequest{CN: sub.CommonName, Names: names, Hosts: sub.Hosts})
	if err != nil {
		return nil, fmt.Errorf("create certificate request: %w", err)
	}
	policy := &cfconfig.Signing{Default: &cfconfig.SigningProfile{
		Usage: sub.Usages, Expiry: validity, ExpiryString: validity.String()}}
	s, err := local.NewSigner(caKey, ca, signer.DefaultSigAlgo(caKey), policy)
	if err != nil {
		return nil, fmt.Errorf("create signer: %w", err)
	}
	certPEM, err := s.Sign(signer.SignRequest{Request: string(csrPEM), Hosts: sub.Hosts})
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return certPEM, nil
}

func (p *PKI) write(base string, certPEM []byte, key crypto.Signer) error {
	keyPEM, err := EncodeKey(key)
	if err != nil {
		return err
	}
	return writePair(file{p.KeyPath(base), keyPEM, KeyMode}, file{p.CertPath(base), certPEM, CertMode})
}

// EnsureServiceAccountKey makes sa.key and sa.pub, or checks that the
// existing pair matches. sa.key without sa.pub is an interrupted write and
// sa.pub is derived again from the key, which changes nothing anyone relies
// on; sa.pub without sa.key is an error, since a new key would invalidate
// every service-account token issued with the old one.
func (p *PKI) EnsureServiceAccountKey() (Result, error) {
	keyPath, pubPath := filepath.Join(p.Dir, "sa.key"), filepath.Join(p.Dir, "sa.pub")
	res := Result{Name: SAKeyName, Path: keyPath, Action: Reused}
	if err := cleanTemps(keyPath, pubPath); err != nil {
		return res, err
	}
	keyPEM, haveKey, err := readOptional(keyPath)
	if err != nil {
		return res, err
	}
	pubPEM, havePub, err := readOptional(pubPath)
	if err != nil {
		return res, err
	}
	switch {
	case haveKey && havePub:
		return res, checkSAPair(keyPath, pubPath, keyPEM, pubPEM)
	case havePub:
		return res, fmt.Errorf("%s exists but its key %s does not: restore the key, or move %s away to regenerate both",
			pubPath, keyPath, pubPath)
	case haveKey:
		res.Action = Regenerated
		return res, completeSAPair(keyPath, pubPath, keyPEM)
	}
	res.Action = Generated
	return res, p.generateSAPair(keyPath, pubPath)
}

func (p *PKI) generateSAPair(keyPath, pubPath string) error {
	key, err := NewKey(p.Algorithm)
	if err != nil {
		return err
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		return err
	}
	pubPEM, err := EncodePublicKey(key.Public())
	if err != nil {
		return err
	}
	return writePair(file{keyPath, keyPEM, KeyMode}, file{pubPath, pubPEM, CertMode})
}

// completeSAPair writes the sa.pub of an existing sa.key.
func completeSAPair(keyPath, pubPath string, keyPEM []byte) error {
	key, err := ParseKey(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: not a PEM private key: %w (move it away to regenerate it)", keyPath, err)
	}
	pubPEM, err := EncodePublicKey(key.Public())
	if err != nil {
		return err
	}
	return writeOne(file{pubPath, pubPEM, CertMode})
}

func checkSAPair(keyPath, pubPath string, keyPEM, pubPEM []byte) error {
	key, err := ParseKey(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", keyPath, err)
	}
	pub, err := parsePublicKeyPEM(pubPEM)
	if err != nil {
		return fmt.Errorf("%s: not a PEM public key: %w", pubPath, err)
	}
	if !samePublicKey(pub, key.Public()) {
		return fmt.Errorf("%s does not match %s: move both away to regenerate them", pubPath, keyPath)
	}
	return nil
}

// LoadCA reads a CA certificate and key from the PKI directory.
func (p *PKI) LoadCA(base string) (*x509.Certificate, crypto.Signer, error) {
	cert, key, err := p.load(base)
	if err != nil {
		return nil, nil, err
	}
	if cert == nil || key == nil {
		return nil, nil, fmt.Errorf("CA %s or its key is missing: run `kubestrap init phase certs/ca` first",
			p.CertPath(base))
	}
	return cert, key, nil
}

func parsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("no PUBLIC KEY block")
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}
