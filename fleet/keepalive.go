package fleet

import (
	"fmt"
	"sync"
	"time"
)

// A host whose packets are silently dropped (a firewall, a dead VM) keeps
// its TCP connection open for hours: only an answer the host must give
// tells it is gone. Every keepaliveInterval up asks for one; after
// keepaliveMaxMissed intervals without it the connection is closed, which
// fails the commands waiting on it. 5 s x 4 names a dark host in 20-25 s.
var (
	keepaliveInterval  = 5 * time.Second
	keepaliveMaxMissed = 4
)

// keepaliveConn is what the keepalive needs of an *ssh.Client, so that a
// test can play a host that stops answering without a network.
type keepaliveConn interface {
	SendRequest(name string, wantReply bool, payload []byte) (bool, []byte, error)
	Close() error
}

// KeepaliveError is why a connection was closed: the host stopped
// answering.
type KeepaliveError struct {
	Host, Addr string
	Silent     time.Duration
}

func (e *KeepaliveError) Error() string {
	return fmt.Sprintf("host %s (%s) stopped answering SSH keepalives for %s: it is down, or a firewall drops its packets",
		e.Host, e.Addr, e.Silent)
}

func (e *KeepaliveError) namesHost() {}

// keepalive watches one connection.
type keepalive struct {
	conn      keepaliveConn
	host      string
	addr      string
	maxMissed int
	interval  time.Duration

	dead    chan struct{} // closed when the host was declared dead
	stopped chan struct{} // closed by stop
	once    sync.Once
	err     error // set before dead is closed
}

func newKeepalive(conn keepaliveConn, host, addr string, interval time.Duration, maxMissed int) *keepalive {
	return &keepalive{conn: conn, host: host, addr: addr, interval: interval, maxMissed: maxMissed,
		dead: make(chan struct{}), stopped: make(chan struct{})}
}

// start runs the keepalive on a real ticker until stop.
func (k *keepalive) start() {
	t := time.NewTicker(k.interval)
	go func() {
		defer t.Stop()
		k.loop(t.C)
	}()
}

// loop sends one request per tick. While a request is unanswered no other
// is sent (a dead host would pile them up); each tick it stays unanswered
// counts as missed.
func (k *keepalive) loop(tick <-chan time.Time) {
	replies := make(chan error, 1)
	pending, missed := false, 0
	for {
		select {
		case <-k.stopped:
			return
		case err := <-replies:
			pending, missed = false, 0
			if err != nil {
				return // the connection is closed: Run calls fail on their own
			}
		case <-tick:
			if pending {
				if missed++; missed >= k.maxMissed {
					k.declareDead(time.Duration(missed) * k.interval)
					return
				}
				continue
			}
			pending = true
			go func() {
				// OpenSSH answers an unknown request with a failure: any
				// answer shows the host is alive.
				_, _, err := k.conn.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}
}

func (k *keepalive) declareDead(silent time.Duration) {
	k.err = &KeepaliveError{Host: k.host, Addr: k.addr, Silent: silent}
	close(k.dead)
	_ = k.conn.Close()
}

// failure is the keepalive's verdict, nil while the host answers.
func (k *keepalive) failure() error {
	select {
	case <-k.dead:
		return k.err
	default:
		return nil
	}
}

func (k *keepalive) stop() { k.once.Do(func() { close(k.stopped) }) }
