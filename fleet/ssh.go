package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// dialTimeout bounds the TCP connect and the SSH handshake.
const dialTimeout = 15 * time.Second

// UnknownHostKeyError: the host's key is not in known_hosts, and unknown
// keys are not to be accepted.
type UnknownHostKeyError struct {
	Host, Fingerprint, KnownHosts string
}

func (e *UnknownHostKeyError) Error() string {
	return fmt.Sprintf("the host key of %s (%s) is not in %s: check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) "+
		"and run again with --accept-new-host-keys, or add it with ssh-keyscan", e.Host, e.Fingerprint, e.KnownHosts)
}

// HostKeyChangedError: the host offers a key other than the one recorded.
// It is never accepted: it is a reinstalled host or a man in the middle.
type HostKeyChangedError struct {
	Host, Got, KnownHosts string
	Want                  []string
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("the host key of %s CHANGED: it offers %s, but %s records %s; if the host was reinstalled, "+
		"remove its line (ssh-keygen -R HOST -f %s) and run again; otherwise someone may be intercepting the connection",
		e.Host, e.Got, e.KnownHosts, strings.Join(e.Want, ", "), e.KnownHosts)
}

// knownHostsMu serialises reads and appends of known_hosts files: hosts are
// dialled in parallel.
var knownHostsMu sync.Mutex

// probeKey is a key no host has: offering it to the known_hosts callback
// returns the keys recorded for a host.
var probeKey = func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
}()

func knownHostsCallback(path string) (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(path)
	if errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error {
			return &knownhosts.KeyError{}
		}, nil
	}
	return cb, err
}

// hostKeyCallback verifies host keys against known_hosts as OpenSSH does;
// with acceptNew, an unknown host's key is recorded (StrictHostKeyChecking
// accept-new). A changed key is always refused.
func hostKeyCallback(path string, acceptNew bool) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		knownHostsMu.Lock()
		defer knownHostsMu.Unlock()
		cb, err := knownHostsCallback(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		err = cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			return err
		}
		if len(ke.Want) > 0 {
			want := make([]string, 0, len(ke.Want))
			for _, k := range ke.Want {
				want = append(want, fmt.Sprintf("%s (%s:%d)", ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
			}
			return &HostKeyChangedError{Host: hostname, Got: ssh.FingerprintSHA256(key), KnownHosts: path, Want: want}
		}
		if !acceptNew {
			return &UnknownHostKeyError{Host: hostname, Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: path}
		}
		return appendKnownHost(path, hostname, key)
	}
}

func appendKnownHost(path, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// knownAlgorithms returns the host key algorithms recorded for a host, so
// that the server is asked for a key type known_hosts can verify (a host
// known by its ed25519 key that offered RSA would look like a changed key).
func knownAlgorithms(path, hostport string) []string {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	cb, err := knownHostsCallback(path)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(cb(hostport, &net.TCPAddr{}, probeKey), &ke) || len(ke.Want) == 0 {
		// A new host: ask for the key types OpenSSH prefers, so that
		// known_hosts gets the line `ssh` itself would check later.
		return []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
			ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	var algos []string
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	return algos
}

// authMethods: the host's key file, else the SSH agent.
func authMethods(keyPath string) ([]ssh.AuthMethod, io.Closer, error) {
	if keyPath != "" {
		pem, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, nil, err
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, nil, fmt.Errorf("%s is protected by a passphrase: load it into ssh-agent (ssh-add %s) and leave keyPath empty", keyPath, keyPath)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, nil, nil
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, errors.New("no ssh.keyPath and no SSH agent (SSH_AUTH_SOCK is empty): set keyPath or start ssh-agent")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("SSH agent at %s: %w", sock, err)
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(agent.NewClient(conn).Signers)}, conn, nil
}

// sshMachine runs commands on a host over one SSH connection, as root:
// through `sudo -n` when the SSH user is not root.
type sshMachine struct {
	client *ssh.Client
	sudo   bool
	agent  io.Closer
	ka     *keepalive
}

// UnreachableError: the host did not answer at all (no TCP connection,
// or no SSH handshake within dialTimeout). Up goes on without such a host
// when another control plane can stand in for it.
type UnreachableError struct {
	Host, Addr string
	Err        error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("ssh %s: host unreachable: %v", e.Addr, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Dial connects to a host, verifying its key against known_hosts. The TCP
// connect and the handshake are bounded by dialTimeout; afterwards
// keepalives tell a host that went dark.
func Dial(ctx context.Context, h Host, acceptNew bool) (Machine, error) {
	auth, agentConn, err := authMethods(h.SSH.KeyPath)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(h.Address, strconv.Itoa(h.SSH.Port))
	cfg := &ssh.ClientConfig{
		User:              h.SSH.User,
		Auth:              auth,
		HostKeyCallback:   hostKeyCallback(h.SSH.KnownHostsPath, acceptNew),
		HostKeyAlgorithms: knownAlgorithms(h.SSH.KnownHostsPath, addr),
		Timeout:           dialTimeout,
	}
	c, err := dialSSH(ctx, addr, cfg)
	if err != nil {
		if agentConn != nil {
			_ = agentConn.Close()
		}
		var ue *UnreachableError
		if errors.As(err, &ue) {
			ue.Host = h.ID()
			return nil, ue
		}
		return nil, fmt.Errorf("ssh %s@%s: %w", h.SSH.User, addr, err)
	}
	m := &sshMachine{client: c, sudo: h.SSH.User != "root", agent: agentConn,
		ka: newKeepalive(c, firstNonEmpty(h.Name, h.Address), addr, keepaliveInterval, keepaliveMaxMissed)}
	m.ka.start()
	return m, nil
}

// dialSSH connects and shakes hands within dialTimeout; a network failure
// or timeout is an *UnreachableError, anything else (a host key, the
// authentication) is not.
func dialSSH(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &UnreachableError{Addr: addr, Err: err}
	}
	_ = conn.SetDeadline(time.Now().Add(dialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		_ = conn.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, &UnreachableError{Addr: addr, Err: err}
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// CommandError is a remote command's failure with the end of its stderr.
type CommandError struct {
	Command string
	Status  int
	Stderr  string
	Stdout  []byte
}

func (e *CommandError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if lines := strings.Split(msg, "\n"); len(lines) > 8 {
		msg = strings.Join(lines[len(lines)-8:], "\n")
	}
	return fmt.Sprintf("%s: exit status %d: %s", e.Command, e.Status, msg)
}

// Run runs a shell command as root with stdin, returning its stdout.
// name is what errors call the command: the script may hold file names
// only, never secrets, but the name keeps errors short. A host that stops
// answering keepalives fails the command with an error naming the host.
func (m *sshMachine) Run(ctx context.Context, name, script string, stdin io.Reader) ([]byte, error) {
	if err := m.ka.failure(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s, err := m.client.NewSession()
	if err != nil {
		return nil, m.connError(name, err)
	}
	defer func() { _ = s.Close() }()
	var stdout, stderr bytes.Buffer
	s.Stdin, s.Stdout, s.Stderr = stdin, &stdout, &stderr
	cmd := "sh -c " + shellQuote(script)
	if m.sudo {
		cmd = "sudo -n " + cmd
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-m.ka.dead:
		return nil, m.connError(name, nil)
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGTERM)
		_ = s.Close()
		return nil, fmt.Errorf("%s: %w", name, ctx.Err())
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		if m.sudo && exit.ExitStatus() == 1 && strings.Contains(stderr.String(), "sudo:") {
			return nil, fmt.Errorf("%s: sudo refused (%s): the SSH user needs passwordless sudo (NOPASSWD) or use root",
				name, strings.TrimSpace(stderr.String()))
		}
		return stdout.Bytes(), &CommandError{Command: name, Status: exit.ExitStatus(), Stderr: stderr.String(), Stdout: stdout.Bytes()}
	}
	if err != nil {
		return nil, m.connError(name, err)
	}
	return stdout.Bytes(), nil
}

// connError is a failure of the connection itself: the keepalive's verdict
// when it closed it, which names the host, else err.
func (m *sshMachine) connError(name string, err error) error {
	if kerr := m.ka.failure(); kerr != nil {
		return fmt.Errorf("%s: %w", name, kerr)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func (m *sshMachine) Close() error {
	m.ka.stop()
	err := m.client.Close()
	if m.agent != nil {
		_ = m.agent.Close()
	}
	return err
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
