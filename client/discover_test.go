package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/g90alarm/g90/internal/leaktest"
)

func TestDiscoverCollectsValidReplies(t *testing.T) {
	leaktest.Check(t)
	// spec: local-protocol.md 9.10 discovery.broadcast; invalid replies
	// are ignored and do not end discovery.
	f := startFake(t, always(
		"garbage",
		"ISTART[106,[\"\"]]IEND\x00",
		"ISTART[206,[\"DUMMYGUID1\",\"\",\"\",\"\",\"\",\"\",0,0,0,0,\"\",0,0]]IEND\x00",
	))
	found, err := Discover(context.Background(), DiscoverConfig{
		Addr:   fmt.Sprintf("127.0.0.1:%d", f.port()),
		Window: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Info.GUID != "DUMMYGUID1" || found[0].Addr.Port != f.port() {
		t.Fatalf("found %+v", found)
	}
}

func TestProbe(t *testing.T) {
	// spec: local-protocol.md 9.10 discovery.targeted*
	f := startFake(t, func(_ int, req []byte) []reply {
		if string(req) != "IWTAC_PROBE_DEVICE,DUMMYGUID\x00" {
			return nil
		}
		return []reply{
			{b: []byte("IWTAC_PROBE_DEVICE_ACK_BAD,TSV018-3SIA,1.2,1.1,206,1.8,3,3,1,0,2,50,100\x00")},
			{b: []byte("IWTAC_PROBE_DEVICE_ACK,TSV018-3SIA,1.2,1.1,206,1.8,3,3,1,0,2,50,100")},
			{b: []byte{0xDE, 0x61, 0x64}},
			{b: []byte("IWTAC_PROBE_DEVICE_ACK,TSV018-3SIA,1.2,1.1,206,1.8,3,3,1,0,2,50,100\x00")},
		}
	})
	found, err := Probe(context.Background(), "DUMMYGUID", DiscoverConfig{
		Addr:   fmt.Sprintf("127.0.0.1:%d", f.port()),
		Local:  "127.0.0.1:0",
		Window: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].GUID != "DUMMYGUID" || found[0].Ack.ProductName != "TSV018-3SIA" || found[0].Ack.FWVersion != "1.8" {
		t.Fatalf("found %+v", found)
	}
}

func TestDiscoverCancel(t *testing.T) {
	leaktest.Check(t)
	f := startFake(t, always())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := Discover(ctx, DiscoverConfig{Addr: fmt.Sprintf("127.0.0.1:%d", f.port()), Window: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}
