package fleet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is a real SSH server on loopback that runs exec requests
// with sh, as sshd would: enough to test host key checks, commands and
// uploads end to end through x/crypto/ssh.
type testServer struct {
	addr    string
	hostKey ssh.Signer
}

func newSigner(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, pem.EncodeToMemory(block)
}

func startServer(t *testing.T, hostKey ssh.Signer, client ssh.PublicKey, more ...ssh.Signer) *testServer {
	t.Helper()
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), client.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(hostKey)
	for _, k := range more {
		cfg.AddHostKey(k)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveConn(c, cfg)
		}
	}()
	return &testServer{addr: l.Addr().String(), hostKey: hostKey}
}

func serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go serveSession(ch, chReqs)
	}
}

func serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer func() { _ = ch.Close() }()
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			continue
		}
		_ = req.Reply(true, nil)
		n := binary.BigEndian.Uint32(req.Payload)
		cmd := exec.Command("sh", "-c", string(req.Payload[4:4+n]))
		cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
		status := 0
		if err := cmd.Run(); err != nil {
			status = 1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			}
		}
		_ = ch.CloseWrite()
		_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
		return
	}
}

type sshFixture struct {
	srv        *testServer
	host       Host
	knownHosts string
}

func newSSHFixture(t *testing.T) *sshFixture {
	t.Helper()
	hostKey, _ := newSigner(t)
	client, clientPEM := newSigner(t)
	srv := startServer(t, hostKey, client.PublicKey())
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, clientPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	h, p, _ := net.SplitHostPort(srv.addr)
	port, _ := strconv.Atoi(p)
	kh := filepath.Join(dir, "ssh", "known_hosts")
	return &sshFixture{srv: srv, knownHosts: kh,
		host: Host{Address: h, Role: RoleWorker, SSH: SSH{User: "root", Port: port, KeyPath: key, KnownHostsPath: kh}}}
}

func TestUnknownHostKeyIsRefusedThenAcceptedWhenAsked(t *testing.T) {
	f := newSSHFixture(t)
	ctx := context.Background()
	_, err := Dial(ctx, f.host, false)
	var unknown *UnknownHostKeyError
	if !errors.As(err, &unknown) || unknown.Fingerprint != ssh.FingerprintSHA256(f.srv.hostKey.PublicKey()) {
		t.Fatalf("unknown host key: %v", err)
	}
	if !strings.Contains(err.Error(), "--accept-new-host-keys") {
		t.Errorf("the error does not name the fix: %v", err)
	}
	if _, err := os.Stat(f.knownHosts); !os.IsNotExist(err) {
		t.Fatalf("a refused key was recorded: %v", err)
	}
	m, err := Dial(ctx, f.host, true)
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	data, err := os.ReadFile(f.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[127.0.0.1]:" + strconv.Itoa(f.host.SSH.Port) + " ssh-ed25519 "; !strings.HasPrefix(string(data), want) {
		t.Errorf("known_hosts line %q, want prefix %q", data, want)
	}
	if st, _ := os.Stat(f.knownHosts); st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v", st.Mode().Perm())
	}
	// Known now: no flag needed, and nothing appended.
	m, err = Dial(ctx, f.host, false)
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	if again, _ := os.ReadFile(f.knownHosts); !bytes.Equal(again, data) {
		t.Errorf("known_hosts changed on a known host:\n%s", again)
	}
}

func TestChangedHostKeyIsRefusedEvenWithAcceptNew(t *testing.T) {
	f := newSSHFixture(t)
	// known_hosts records another key for this host and port: the
	// reinstalled host, or a man in the middle.
	other, _ := newSigner(t)
	line := knownhosts.Line([]string{knownhosts.Normalize(f.srv.addr)}, other.PublicKey()) + "\n"
	_ = os.MkdirAll(filepath.Dir(f.knownHosts), 0o700)
	if err := os.WriteFile(f.knownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(context.Background(), f.host, true)
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("changed key accepted or wrong error: %v", err)
	}
	msg := err.Error()
	for _, fp := range []string{ssh.FingerprintSHA256(other.PublicKey()), ssh.FingerprintSHA256(f.srv.hostKey.PublicKey())} {
		if !strings.Contains(msg, fp) {
			t.Errorf("the error must name both fingerprints; %s is missing: %s", fp, msg)
		}
	}
	if data, _ := os.ReadFile(f.knownHosts); string(data) != line {
		t.Errorf("known_hosts was changed:\n%s", data)
	}
}

func TestRunAndPutOverSSH(t *testing.T) {
	f := newSSHFixture(t)
	ctx := context.Background()
	m, err := Dial(ctx, f.host, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	out, err := m.Run(ctx, "echo", `echo "it's" $((1+2))`, nil)
	if err != nil || string(out) != "it's 3\n" {
		t.Fatalf("Run: %q %v", out, err)
	}
	_, err = m.Run(ctx, "failing", "echo oops >&2; exit 7", nil)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Status != 7 || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("a failing command: %v", err)
	}
	dest := filepath.Join(t.TempDir(), "sub", "file")
	payload := bytes.Repeat([]byte("kubestrap"), 100000)
	if err := put(ctx, m, dest, bytes.NewReader(payload), int64(len(payload)), "0600"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("uploaded %d bytes, read back %d (%v)", len(payload), len(got), err)
	}
	if st, _ := os.Stat(dest); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if tmps, _ := filepath.Glob(dest + ".tmp*"); len(tmps) != 0 {
		t.Errorf("the temporary file was left: %v", tmps)
	}
	// Cut short (a session that dies mid-upload and whose stdin then
	// closes): nothing is renamed into place, no temporary file stays.
	short := filepath.Join(filepath.Dir(dest), "short")
	if err := put(ctx, m, short, bytes.NewReader(payload[:1000]), int64(len(payload)), "0600"); err == nil {
		t.Error("a short upload was accepted")
	}
	if _, err := os.Stat(short); !os.IsNotExist(err) {
		t.Errorf("a short upload took the final name: %v", err)
	}
	if tmps, _ := filepath.Glob(short + ".tmp*"); len(tmps) != 0 {
		t.Errorf("a short upload left %v", tmps)
	}
}

func TestEncryptedKeyNamesTheAgent(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "key")
	_ = os.WriteFile(key, pem.EncodeToMemory(block), 0o600)
	_, _, err = authMethods(key)
	if err == nil || !strings.Contains(err.Error(), "ssh-add") {
		t.Fatalf("encrypted key: %v", err)
	}
}

func TestNewHostsAreRecordedByTheirEd25519Key(t *testing.T) {
	// OpenSSH asks for ed25519 first; Go's default would record ECDSA, and a
	// later `ssh` to the host would then find no line of its key type.
	ed, _ := newSigner(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ssh.NewSignerFromKey(ecKey)
	f := newSSHFixture(t)
	client, clientPEM := newSigner(t)
	_ = os.WriteFile(f.host.SSH.KeyPath, clientPEM, 0o600)
	srv := startServer(t, ec, client.PublicKey(), ed)
	h, p, _ := net.SplitHostPort(srv.addr)
	f.host.Address, f.host.SSH.Port = h, atoi(p)
	m, err := Dial(context.Background(), f.host, true)
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close()
	data, _ := os.ReadFile(f.knownHosts)
	if !strings.Contains(string(data), " ssh-ed25519 ") {
		t.Errorf("known_hosts: %s", data)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
