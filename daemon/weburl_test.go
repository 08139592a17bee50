package daemon

import (
	"net"
	"testing"
)

func TestWebURL(t *testing.T) {
	for _, c := range []struct {
		addr     string
		hostname string
		tls      bool
		want     string
	}{
		{"127.0.0.1:8080", "box", false, "http://127.0.0.1:8080/"},
		{"[::1]:8080", "box", false, "http://[::1]:8080/"},
		{"0.0.0.0:8080", "box", false, "http://box:8080/"},
		{"0.0.0.0:8443", "box", true, "https://box:8443/"},
		{"[::]:8080", "", false, ""},
	} {
		a, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := webURL(a, c.hostname, c.tls); got != c.want {
			t.Errorf("webURL(%s, %q) = %q, want %q", c.addr, c.hostname, got, c.want)
		}
	}
}
