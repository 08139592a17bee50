package cloudproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
)

// allMessages returns one valid message of every kind: the hex inputs of
// the C-* vectors and the replies a standalone server sends.
func allMessages(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, e := range LoadVectors(tb) {
		b, ok := vectors.Hex(e.Fields["input_hex"])
		if !ok {
			continue
		}
		if m, err := Decode(b); err == nil && m.Kind != KindUnknown {
			out = append(out, b)
		}
	}
	for _, r := range HelloReplies(DefaultParams.LocalPort) {
		out = append(out, r.Append(nil))
	}
	disc := DiscoveryReply(DefaultParams.Advertise, DefaultParams.Now)
	out = append(out, disc.Append(nil))
	cmd := Message{Kind: KindCommand, Header: KindCommand.Header(), Command: Command{Unknown1: 2, CommandCode: 200, SubcommandCode: 200, Unknown2: 5}, Body: []byte("[200,[1,10]]\x00")}
	return append(out, cmd.Append(nil))
}

// frames feeds chunks to a Framer and returns the messages and framing
// errors, draining Next after every chunk.
func frames(chunks ...[]byte) (msgs [][]byte, errs []*FrameError, f *Framer) {
	f = new(Framer)
	for _, c := range chunks {
		f.Feed(c)
		for {
			m, err := f.Next()
			if err != nil {
				var fe *FrameError
				if !errors.As(err, &fe) || !errors.Is(err, ErrFraming) {
					panic(fmt.Sprintf("Next error %v is not a *FrameError", err))
				}
				fe.Dropped = bytes.Clone(fe.Dropped)
				errs = append(errs, fe)
				continue
			}
			if m == nil {
				break
			}
			msgs = append(msgs, bytes.Clone(m))
		}
	}
	return msgs, errs, f
}

// TestFramerSplitEverywhere splits every message, and two messages in a
// row, at every byte boundary (spec: D.6.2).
func TestFramerSplitEverywhere(t *testing.T) {
	msgs := allMessages(t)
	for i, m := range msgs {
		pair := append(bytes.Clone(m), msgs[(i+1)%len(msgs)]...)
		for cut := 0; cut <= len(pair); cut++ {
			got, errs, f := frames(pair[:cut], pair[cut:])
			if len(errs) != 0 || len(got) != 2 || !bytes.Equal(bytes.Join(got, nil), pair) || len(f.Buffered()) != 0 {
				t.Fatalf("message %d split at %d: got %d messages, errors %v", i, cut, len(got), errs)
			}
		}
	}
	// Byte by byte.
	all := bytes.Join(msgs, nil)
	var chunks [][]byte
	for i := range all {
		chunks = append(chunks, all[i:i+1])
	}
	got, errs, _ := frames(chunks...)
	if len(errs) != 0 || len(got) != len(msgs) {
		t.Fatalf("byte by byte: %d messages, errors %v", len(got), errs)
	}
}

// TestFramerResync puts bad lengths and garbage between valid messages:
// only the bad bytes are dropped, each run reported once (spec: D.6.2,
// D.12).
func TestFramerResync(t *testing.T) {
	msgs := allMessages(t)
	ping := msgs[0]
	hello := msgs[1]
	tests := []struct {
		name    string
		garbage []byte
	}{
		{"zero length", []byte{0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
		{"length 7", []byte{0x01, 0x10, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00}},
		{"negative length", []byte{0x01, 0x10, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff}},
		{"huge length", []byte{0x22, 0x10, 0x00, 0x20, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00}},
		{"text", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"zeros", make([]byte, 13)},
		{"a ping's first bytes", []byte{0x01, 0x10, 0x00, 0x00, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := bytes.Join([][]byte{hello, tt.garbage, ping, tt.garbage, hello}, nil)
			for _, chunks := range [][][]byte{{stream}, splitEvery(stream, 3), splitEvery(stream, 1)} {
				got, errs, _ := frames(chunks...)
				want := [][]byte{hello, ping, hello}
				if len(got) != 3 || !bytes.Equal(bytes.Join(got, nil), bytes.Join(want, nil)) {
					t.Fatalf("%d chunks: got messages % x, want % x", len(chunks), got, want)
				}
				// One error per run of garbage when it comes in one read;
				// more when the reads cut it, but together they drop
				// exactly the garbage.
				if len(chunks) == 1 && len(errs) != 2 {
					t.Fatalf("%d framing errors, want 2: %v", len(errs), errs)
				}
				var dropped []byte
				for _, e := range errs {
					dropped = append(dropped, e.Dropped...)
				}
				if want := bytes.Repeat(tt.garbage, 2); !bytes.Equal(dropped, want) {
					t.Errorf("%d chunks: dropped % x, want % x", len(chunks), dropped, want)
				}
				if want := int64(len(hello)); errs[0].Offset != want {
					t.Errorf("Offset = %d, want %d", errs[0].Offset, want)
				}
				if want := messageLength(append(bytes.Clone(tt.garbage), ping...)); len(chunks) == 1 && errs[0].Length != want {
					t.Errorf("Length = %d, want %d", errs[0].Length, want)
				}
			}
		})
	}
}

func splitEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// TestFramerUnknownPasses: an unknown message with a sane length is
// framed (and then skipped by kind), not treated as garbage (spec: D.12).
func TestFramerUnknownPasses(t *testing.T) {
	unknown := []byte{0x99, 0x10, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}
	got, errs, _ := frames(unknown, PingBytes)
	if len(errs) != 0 || len(got) != 2 {
		t.Fatalf("got %d messages, errors %v", len(got), errs)
	}
}

// TestFramerBound: the buffer holds at most one message and a read.
func TestFramerBound(t *testing.T) {
	big := Message{Kind: KindNotification, Header: KindNotification.Header(), Body: bytes.Repeat([]byte{'x'}, MaxMessageSize-VersionedHeaderSize)}
	b := big.Append(nil)
	got, errs, f := frames(splitEvery(b, 1000)...)
	if len(got) != 1 || len(errs) != 0 || cap(f.buf) > 2*MaxMessageSize {
		t.Fatalf("got %d messages, errors %v, buffer capacity %d", len(got), errs, cap(f.buf))
	}
	b[4]++ // one byte over the limit
	if _, errs, _ = frames(b); len(errs) == 0 || errs[0].Length != MaxMessageSize+1 {
		t.Fatalf("errors %v, want one for length %d", errs, MaxMessageSize+1)
	}
}

// withLength returns a copy of msg whose message_length says n.
func withLength(msg []byte, n int) []byte {
	b := bytes.Clone(msg)
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	return b
}

// TestFramerWrongLength: a message_length in range but wrong, longer than
// the message, is a framing error as soon as the header of the next
// message is in: the valid messages after it come out without waiting
// for the bytes the wrong length claims, and only the wrong message is
// dropped (issue 13.17; spec: D.4, D.5.7-D.5.9).
func TestFramerWrongLength(t *testing.T) {
	msgs := allMessages(t)
	byKind := map[Kind][]byte{}
	for _, m := range msgs {
		d, err := Decode(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := byKind[d.Kind]; !ok {
			byKind[d.Kind] = m
		}
	}
	ping, hello, status := byKind[KindPing], byKind[KindHello], byKind[KindStatusChange]
	after := bytes.Join([][]byte{ping, status, hello}, nil)
	for k, m := range byKind {
		for _, extra := range []int{len(ping), 100, 1000, MaxMessageSize - len(m)} {
			t.Run(fmt.Sprintf("%v+%d", k, extra), func(t *testing.T) {
				bad := withLength(m, len(m)+extra)
				stream := append(bytes.Clone(bad), after...)
				for _, chunks := range [][][]byte{{stream}, splitEvery(stream, 7), splitEvery(stream, 1)} {
					got, errs, f := frames(chunks...)
					if !bytes.Equal(bytes.Join(got, nil), after) || len(got) != 3 {
						t.Fatalf("%d chunks: got messages % x, want the three after the bad one", len(chunks), got)
					}
					if d := droppedBytes(errs); !bytes.Equal(d, bad) {
						t.Fatalf("%d chunks: dropped % x, want the bad message % x", len(chunks), d, bad)
					}
					if !errs[0].Overrun || errs[0].Length != int32(len(m)+extra) {
						t.Errorf("first error %+v, want an overrun of length %d", errs[0], len(m)+extra)
					}
					if len(f.Buffered()) != 0 {
						t.Errorf("%d bytes left buffered", len(f.Buffered()))
					}
				}
			})
		}
	}
}

// TestFramerLongerPasses: a message longer than its layout with no
// header inside is framed whole, its extra bytes ignored by Decode (spec:
// D.6.1 (c)); a header that begins only past message_length is the next
// message.
func TestFramerLongerPasses(t *testing.T) {
	hello := allMessages(t)[1]
	long := append(withLength(hello, len(hello)+7), PingBytes[:7]...)
	got, errs, _ := frames(long, PingBytes)
	if len(errs) != 0 || len(got) != 2 || !bytes.Equal(got[0], long) || !bytes.Equal(got[1], PingBytes) {
		t.Fatalf("got % x, errors %v", got, errs)
	}
	note := Message{Kind: KindNotification, Header: KindNotification.Header(), Body: []byte("[170,[5,[101,\"x\"]]]\x00\x00\x00\x00")}
	b := note.Append(nil)
	if got, errs, _ := frames(b, PingBytes); len(errs) != 0 || len(got) != 2 {
		t.Fatalf("NUL padding after the JSON: got % x, errors %v", got, errs)
	}
}
