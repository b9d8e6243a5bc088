package config

import "testing"

func TestEndpointRoundTrips(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://192.168.56.10:6443", "192.168.56.10:6443"},
		{"https://[fd00::1]:6443", "[fd00::1]:6443"},
		{"https://lb.example.com", "lb.example.com:443"},
	} {
		e, err := EndpointOf(tc.url)
		if err != nil || e.String() != tc.want {
			t.Errorf("%s: %v %v, want %s", tc.url, e, err, tc.want)
		}
		if tc.url != "https://lb.example.com" && e.URL() != tc.url {
			t.Errorf("%s: URL() = %s", tc.url, e.URL())
		}
	}
	for _, bad := range []string{"http://1.2.3.4:6443", "1.2.3.4:6443", "https://"} {
		if _, err := EndpointOf(bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
	if e, err := ParseEndpoint("lb", 6443); err != nil || e.URL() != "https://lb:6443" {
		t.Errorf("bare host: %v %v", e, err)
	}
	if _, err := ParseEndpoint("lb", 0); err == nil {
		t.Error("bare host without a default port: want an error")
	}
	if e := NewEndpoint("fd00::2", 2379); e.URL() != "https://[fd00::2]:2379" {
		t.Errorf("NewEndpoint: %s", e.URL())
	}
}
