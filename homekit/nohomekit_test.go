//go:build nohomekit

package homekit

import (
	"context"
	"errors"
	"testing"
)

// A build without the bridge refuses to make one, and says why.
func TestNotBuiltIn(t *testing.T) {
	if BuiltIn {
		t.Fatal("BuiltIn in a nohomekit build")
	}
	b, err := New(Config{Dir: t.TempDir()})
	if !errors.Is(err, ErrNotBuiltIn) || b != nil {
		t.Fatalf("New = %v, %v; want nil, ErrNotBuiltIn", b, err)
	}
	if err := b.Run(context.Background()); !errors.Is(err, ErrNotBuiltIn) {
		t.Fatalf("Run = %v", err)
	}
	if st := b.Setup(); st != (Setup{}) || b.Addr() != nil {
		t.Fatalf("Setup = %+v, Addr = %v", st, b.Addr())
	}
}
