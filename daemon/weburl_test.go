package daemon

import (
	"net"
	"testing"
)

func TestWebURL(t *testing.T) {
	for _, c := range []struct {
		addr     string
		hostname string
		want     string
	}{
		{"127.0.0.1:8080", "box", "http://127.0.0.1:8080/"},
		{"[::1]:8080", "box", "http://[::1]:8080/"},
		{"0.0.0.0:8080", "box", "http://box:8080/"},
		{"[::]:8080", "", ""},
	} {
		a, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := webURL(a, c.hostname); got != c.want {
			t.Errorf("webURL(%s, %q) = %q, want %q", c.addr, c.hostname, got, c.want)
		}
	}
}
