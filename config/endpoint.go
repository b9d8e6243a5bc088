package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// Endpoint is an API server (or etcd member) address as host:port, the
// form the configuration and the join command use. URL gives the https URL
// kubeconfigs and clients need; EndpointOf turns such a URL back, so no
// caller trims "https://" off a string itself.
type Endpoint struct{ Host, Port string }

// NewEndpoint is host and port as an Endpoint.
func NewEndpoint(host string, port int) Endpoint {
	return Endpoint{Host: host, Port: strconv.Itoa(port)}
}

// ParseEndpoint reads host:port; a bare host gets defaultPort.
func ParseEndpoint(s string, defaultPort int) (Endpoint, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if defaultPort == 0 {
			return Endpoint{}, fmt.Errorf("endpoint %q: want host:port", s)
		}
		return NewEndpoint(s, defaultPort), nil
	}
	return Endpoint{Host: host, Port: port}, nil
}

// EndpointOf is the host:port of an https URL (a kubeconfig's server).
func EndpointOf(rawURL string) (Endpoint, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return Endpoint{}, fmt.Errorf("server %q: want an https URL with a host", rawURL)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return Endpoint{Host: u.Hostname(), Port: port}, nil
}

// String is host:port, IPv6 hosts in brackets.
func (e Endpoint) String() string { return net.JoinHostPort(e.Host, e.Port) }

// URL is the https URL of the endpoint.
func (e Endpoint) URL() string { return "https://" + e.String() }
