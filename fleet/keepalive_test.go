package fleet

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeConn answers keepalives until it goes dark; then a request blocks
// until the connection is closed, as on a host whose packets are dropped.
type fakeConn struct {
	mu     sync.Mutex
	dark   bool
	sent   int
	closed chan struct{}
	once   sync.Once
}

func newFakeConn() *fakeConn { return &fakeConn{closed: make(chan struct{})} }

func (c *fakeConn) SendRequest(name string, wantReply bool, _ []byte) (bool, []byte, error) {
	c.mu.Lock()
	c.sent++
	dark := c.dark
	c.mu.Unlock()
	if name != "keepalive@openssh.com" || !wantReply {
		return false, nil, errors.New("not a keepalive asking for a reply")
	}
	if dark {
		<-c.closed
		return false, nil, io.EOF
	}
	return false, nil, nil // OpenSSH's answer to a request it does not know
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *fakeConn) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// waitFor polls cond for up to 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestKeepaliveClosesADarkConnectionNamingTheHost(t *testing.T) {
	conn := newFakeConn()
	conn.dark = true
	k := newKeepalive(conn, "cp1", "10.0.0.1:22", 5*time.Second, 4)
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() { k.loop(tick); close(done) }()
	// The first tick sends a request; each of the next 4 finds it
	// unanswered: the 4th closes the connection, 20-25 s after the host
	// went dark.
	for i := 0; i < 4; i++ {
		tick <- time.Time{}
		if conn.isClosed() {
			t.Fatalf("closed after %d ticks, want 5", i+1)
		}
	}
	tick <- time.Time{}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the keepalive did not give up after 4 missed answers")
	}
	if !conn.isClosed() {
		t.Fatal("the connection of a dark host was not closed")
	}
	err := k.failure()
	if err == nil || err.Error() != "host cp1 (10.0.0.1:22) stopped answering SSH keepalives for 20s: it is down, or a firewall drops its packets" {
		t.Fatalf("failure %v", err)
	}
	// The request goes out from a goroutine of its own: wait until the fake
	// has counted it, then require that it was the only one.
	waitFor(t, "the keepalive request", func() bool { return conn.requests() >= 1 })
	if conn.requests() != 1 {
		t.Errorf("%d requests outstanding on a dark host, want 1", conn.requests())
	}
}

func TestKeepaliveLeavesAnAnsweringHostAlone(t *testing.T) {
	conn := newFakeConn()
	k := newKeepalive(conn, "cp1", "10.0.0.1:22", 5*time.Second, 2)
	tick := make(chan time.Time)
	go k.loop(tick)
	defer k.stop()
	for i := 1; i <= 20; i++ {
		tick <- time.Time{}
		waitFor(t, "the keepalive", func() bool { return conn.requests() >= i })
	}
	if conn.isClosed() || k.failure() != nil {
		t.Fatalf("an answering host was declared dead: %v", k.failure())
	}
}

// dropProxy forwards TCP to addr until dark is set; then it drops every
// byte both ways and keeps the connections open, as a firewall that DROPs
// does.
type dropProxy struct {
	addr string
	dark atomic.Bool
}

func startDropProxy(t *testing.T, to string) *dropProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	p := &dropProxy{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", to)
			if err != nil {
				_ = c.Close()
				continue
			}
			t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
	return p
}

func (p *dropProxy) pipe(from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		if !p.dark.Load() {
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

func TestRunFailsNamingAHostThatWentDark(t *testing.T) {
	defer func(i time.Duration, n int) { keepaliveInterval, keepaliveMaxMissed = i, n }(keepaliveInterval, keepaliveMaxMissed)
	keepaliveInterval, keepaliveMaxMissed = 20*time.Millisecond, 4
	f := newSSHFixture(t)
	proxy := startDropProxy(t, f.srv.addr)
	h, port, _ := net.SplitHostPort(proxy.addr)
	f.host.Address, f.host.SSH.Port, f.host.Name = h, atoi(port), "cp1"
	m, err := Dial(context.Background(), f.host, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	if _, err := m.Run(context.Background(), "echo", "echo hi", nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.Run(context.Background(), "kubestrap join", "sleep 5", nil)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	proxy.dark.Store(true)
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run hung on a host that went dark")
	}
	var ke *KeepaliveError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), "kubestrap join: host cp1 ("+proxy.addr+") stopped answering SSH keepalives for 80ms") {
		t.Fatalf("error %v, want one naming the host and its silence", err)
	}
	if _, err := m.Run(context.Background(), "echo", "echo hi", nil); !errors.As(err, &ke) {
		t.Errorf("a later Run on the dead connection: %v", err)
	}
}

func TestAHangingStepIsCutOffNamingTheHostAndTheStep(t *testing.T) {
	defer func(old time.Duration) { stepTimeouts["join"] = old }(stepTimeouts["join"])
	stepTimeouts["join"] = 50 * time.Millisecond
	fc := newFakeCluster()
	fc.hang = "kubestrap join"
	done := make(chan error, 1)
	go func() {
		_, err := Up(context.Background(), testCluster(t, 1), Options{Dial: fc.dial})
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("up hung on a remote command that hangs")
	}
	var se *StepTimeoutError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), `host 10.0.0.2: step "join" did not finish within 50ms`) {
		t.Fatalf("error %v, want the step's timeout naming host and step", err)
	}
	if strings.Contains(err.Error(), "10.0.0.2: host 10.0.0.2") {
		t.Errorf("the host is named twice: %v", err)
	}
}

func TestUploadDeadlineGrowsWithTheFile(t *testing.T) {
	small, big := uploadTimeout(1<<20), uploadTimeout(2<<30)
	if small != 2*time.Minute || big < 60*time.Minute {
		t.Errorf("upload deadlines %s (1 MB), %s (2 GB)", small, big)
	}
}
