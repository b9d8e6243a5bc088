package staticpods

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kubestrap/kubestrap/config"
	"github.com/kubestrap/kubestrap/etcd"
	"github.com/kubestrap/kubestrap/layout"
	"github.com/kubestrap/kubestrap/poll"
)

// Probe is one component's health check.
type Probe struct {
	Name  string
	Check func(ctx context.Context) error
}

// KubeletHealthzPort is where the kubelet answers /healthz.
const KubeletHealthzPort = 10248

// ControlPlaneProbes checks the kubelet, etcd (clientv3 with the
// healthcheck-client certificate), kube-apiserver /readyz (trusting only
// the cluster CA), and the controller manager's and scheduler's health.
func ControlPlaneProbes(c *config.Init, certDir string) ([]Probe, error) {
	caPEM, err := os.ReadFile(filepath.Join(certDir, layout.CACert))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	verified := httpClient(&tls.Config{RootCAs: pool})
	// kcm and scheduler serve with self-signed certificates of their own;
	// only their liveness matters here.
	selfSigned := httpClient(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // health probe of a local self-signed endpoint
	api := config.NewEndpoint(c.LocalAPIEndpoint.AdvertiseAddress, int(c.LocalAPIEndpoint.BindPort)).URL()
	etcdEP := config.NewEndpoint(localhost(c), layout.EtcdClientPort).URL()
	etcdFiles := etcd.HealthcheckClient(certDir)
	return []Probe{
		{Name: "kubelet", Check: httpOK(httpClient(nil), "http://127.0.0.1:"+strconv.Itoa(KubeletHealthzPort)+"/healthz")},
		{Name: Etcd, Check: func(ctx context.Context) error {
			cl, err := etcd.Client([]string{etcdEP}, etcdFiles)
			if err != nil {
				return err
			}
			defer func() { _ = cl.Close() }()
			return etcd.Healthy(ctx, cl, etcdEP)
		}},
		{Name: KubeAPIServer, Check: httpOK(verified, api+"/readyz")},
		{Name: ControllerManager, Check: httpOK(selfSigned, "https://127.0.0.1:"+strconv.Itoa(layout.ControllerManagerPort)+"/healthz")},
		{Name: Scheduler, Check: httpOK(selfSigned, "https://127.0.0.1:"+strconv.Itoa(layout.SchedulerPort)+"/livez")},
	}, nil
}

func httpClient(t *tls.Config) *http.Client {
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: t, DisableKeepAlives: true}}
}

func httpOK(c *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("%s: %s: %s", url, resp.Status, lastLine(string(body)))
		}
		return nil
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Waiter polls probes until all pass, printing each component's state as
// it changes.
type Waiter struct {
	Probes   []Probe
	Interval time.Duration
	Out      io.Writer
	Prefix   string
	// Logs returns the last log lines of a component, for the timeout report.
	Logs func(component string) string
}

// Wait blocks until every probe passes or ctx ends. On timeout the error
// names the unhealthy components with their last error and log lines.
func (w *Waiter) Wait(ctx context.Context) error {
	start := time.Now()
	var mu sync.Mutex
	last := map[string]string{}
	var wg sync.WaitGroup
	for _, p := range w.Probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.poll(ctx, p, start, &mu, last)
		}()
	}
	wg.Wait()
	var failed []string
	for _, p := range w.Probes {
		if msg := last[p.Name]; msg != "healthy" {
			failed = append(failed, p.Name)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	sort.Strings(failed)
	var b strings.Builder
	fmt.Fprintf(&b, "not healthy after %s: %s", time.Since(start).Round(time.Second), strings.Join(failed, ", "))
	for _, f := range failed {
		fmt.Fprintf(&b, "\n  %s: %s", f, last[f])
		if w.Logs != nil && f != "kubelet" {
			if logs := w.Logs(f); logs != "" {
				fmt.Fprintf(&b, "\n    last log lines:\n%s", indent(logs, "      "))
			}
		}
	}
	b.WriteString("\n  hint: `journalctl -u kubelet` shows why the kubelet cannot start pods; " +
		"`crictl ps -a` / `ctr -n k8s.io containers ls` list the control-plane containers")
	return errors.New(b.String())
}

func (w *Waiter) poll(ctx context.Context, p Probe, start time.Time, mu *sync.Mutex, last map[string]string) {
	report := func(state string) {
		mu.Lock()
		defer mu.Unlock()
		if last[p.Name] == state {
			return
		}
		last[p.Name] = state
		if state == "healthy" {
			fmt.Fprintf(w.Out, "[%s] %s healthy (%s)\n", w.Prefix, p.Name, time.Since(start).Round(10*time.Millisecond))
		}
	}
	report("waiting")
	// The result is in last: on timeout Wait reports every probe's state.
	_ = poll.Until(ctx, poll.Spec{What: p.Name + " to be healthy", Interval: w.Interval, Out: w.Out, Prefix: w.Prefix},
		func(ctx context.Context) (bool, error) {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := p.Check(cctx)
			cancel()
			if err == nil {
				report("healthy")
				return true, nil
			}
			mu.Lock()
			last[p.Name] = err.Error()
			mu.Unlock()
			return false, err
		})
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// withRuntime calls fn with a CRI runtime client connected to endpoint.
func withRuntime(endpoint string, fn func(rt runtimeapi.RuntimeServiceClient) error) error {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	return fn(runtimeapi.NewRuntimeServiceClient(conn))
}

// containers lists the containers named component, in any state.
func containers(ctx context.Context, rt runtimeapi.RuntimeServiceClient, component string) ([]*runtimeapi.Container, error) {
	list, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{"io.kubernetes.container.name": component}}})
	if err != nil {
		return nil, err
	}
	return list.Containers, nil
}

// CRILogs returns the last n log lines of the newest container named
// component, found through the CRI (which also gives the log path).
func CRILogs(ctx context.Context, endpoint, component string, n int) (string, error) {
	var logs string
	err := withRuntime(endpoint, func(rt runtimeapi.RuntimeServiceClient) error {
		list, err := containers(ctx, rt, component)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			logs = "(no container was created: the image may be missing — `kubestrap images load` — or the manifest invalid)"
			return nil
		}
		logs, err = lastLines(ctx, rt, newest(list), n)
		return err
	})
	return logs, err
}

func newest(list []*runtimeapi.Container) *runtimeapi.Container {
	n := list[0]
	for _, c := range list {
		if c.CreatedAt > n.CreatedAt {
			n = c
		}
	}
	return n
}

func lastLines(ctx context.Context, rt runtimeapi.RuntimeServiceClient, c *runtimeapi.Container, n int) (string, error) {
	st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(st.Status.LogPath)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		// CRI log lines: "<time> <stream> <tag> <message>".
		if f := strings.SplitN(l, " ", 4); len(f) == 4 {
			lines[i] = f[3]
		}
	}
	return strings.Join(lines, "\n") + fmt.Sprintf("\n(state %s, exit code %d)", st.Status.State, st.Status.ExitCode), nil
}

// LogsFrom is a Waiter's Logs through the CRI at endpoint: the last 15
// lines of a component's newest container, or why there are none.
func LogsFrom(endpoint string) func(component string) string {
	return func(component string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		logs, err := CRILogs(ctx, endpoint, component, 15)
		if err != nil {
			return "(no logs: " + err.Error() + ")"
		}
		return logs
	}
}

// StartedSince returns nil once a container named component, created at
// or after since, is running: the kubelet has replaced the pod after its
// manifest changed. Until then a health probe would only see the old pod.
func StartedSince(ctx context.Context, endpoint, component string, since time.Time) error {
	return withRuntime(endpoint, func(rt runtimeapi.RuntimeServiceClient) error {
		list, err := containers(ctx, rt, component)
		if err != nil {
			return err
		}
		for _, c := range list {
			if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING && c.CreatedAt >= since.UnixNano() {
				return nil
			}
		}
		return fmt.Errorf("no %s container started since %s yet (the kubelet recreates the pod once it sees the changed manifest)",
			component, since.Format(time.RFC3339))
	})
}

// NewestRunning returns nil when the newest container named component
// runs: one the kubelet has just killed to restart it does not count,
// though the old process may still answer its health checks.
func NewestRunning(ctx context.Context, endpoint, component string) error {
	return withRuntime(endpoint, func(rt runtimeapi.RuntimeServiceClient) error {
		list, err := containers(ctx, rt, component)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return fmt.Errorf("no %s container", component)
		}
		if c := newest(list); c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			return fmt.Errorf("the newest %s container is %s", component, c.State)
		}
		return nil
	})
}
