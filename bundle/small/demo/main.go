// Command demo is the lab's test server. GET / answers with its pod and
// node names (from POD_NAME and NODE_NAME, set by the downward API);
// /resolve?name=N looks a name up through the pod's DNS; /fetch?url=U
// makes a GET from inside the pod and relays the answer, so tests can
// reach Services from a pod (&insecure=1 skips TLS verification, for
// reaching the API server's Service IP); /healthz is for probes.
//
// On SIGTERM it keeps serving for DRAIN_SECONDS (default 0) before it
// shuts down, as a production server does while the Service's endpoints
// drop it. `demo load URL` is the client the upgrade test runs: a GET
// every 100 ms until SIGTERM, each failure printed, a tally each second.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "load" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		load(ctx, http.DefaultClient, os.Args[2], 100*time.Millisecond, time.Second, os.Stdout)
		return
	}
	// Client mode, for `kubectl exec`: demo get URL | demo resolve NAME.
	if len(os.Args) == 3 {
		os.Exit(client(os.Args[1], os.Args[2], os.Stdout))
	}
	addr := ":" + envOr("PORT", "8080")
	log.Printf("demo listening on %s", addr)
	srv := &http.Server{Addr: addr, Handler: newMux(identity(), net.DefaultResolver, http.DefaultClient, insecureClient()),
		ReadHeaderTimeout: 5 * time.Second}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		drain, _ := strconv.Atoi(envOr("DRAIN_SECONDS", "0"))
		log.Printf("SIGTERM: serving %d s more while the endpoints drop this pod", drain)
		time.Sleep(time.Duration(drain) * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// load sends a GET to url every interval until ctx ends, printing each
// failure and, every report, the tally "sent N failed M".
func load(ctx context.Context, c *http.Client, url string, interval, report time.Duration, out io.Writer) (sent, failed int) {
	tick, rep := time.NewTicker(interval), time.NewTicker(report)
	defer tick.Stop()
	defer rep.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "sent %d failed %d\n", sent, failed)
			return sent, failed
		case <-rep.C:
			fmt.Fprintf(out, "sent %d failed %d\n", sent, failed)
		case <-tick.C:
			sent++
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := getOK(rctx, c, url)
			cancel()
			if err != nil && ctx.Err() == nil {
				failed++
				fmt.Fprintf(out, "%s FAILED: %v\n", time.Now().UTC().Format("15:04:05.000"), err)
			}
		}
	}
}

func client(verb, arg string, out io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	switch verb {
	case "get":
		var b []byte
		if b, err = fetch(ctx, http.DefaultClient, arg); err == nil {
			_, err = out.Write(b)
		}
	case "resolve":
		var addrs []string
		if addrs, err = net.DefaultResolver.LookupHost(ctx, arg); err == nil {
			_, err = fmt.Fprintln(out, strings.Join(addrs, " "))
		}
	default:
		err = fmt.Errorf("usage: demo [get URL | resolve NAME]")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func identity() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("pod=%s node=%s", envOr("POD_NAME", host), envOr("NODE_NAME", "unknown"))
}

type resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

func insecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test tool
}

func newMux(id string, r resolver, client, insecure *http.Client) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, id) })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/resolve", func(w http.ResponseWriter, req *http.Request) {
		name := req.URL.Query().Get("name")
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, name)
		if err != nil || name == "" {
			http.Error(w, fmt.Sprintf("resolve %q: %v", name, err), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, strings.Join(addrs, " "))
	})
	mux.HandleFunc("/fetch", func(w http.ResponseWriter, req *http.Request) {
		u := req.URL.Query().Get("url")
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		defer cancel()
		c := client
		if req.URL.Query().Get("insecure") == "1" {
			c = insecure
		}
		out, err := fetch(ctx, c, u)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = w.Write(out)
	})
	return mux
}

// getOK is one GET that must answer 200.
func getOK(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func fetch(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, fmt.Errorf("fetch %q: need an http(s) URL", u)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}
