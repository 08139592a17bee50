package cloudproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/g90alarm/g90/protocol"
	"testing"

	"github.com/g90alarm/g90/internal/testrig/vectors"
	"github.com/google/go-cmp/cmp"
)

// The fuzz tests hold the property of every decoder (STYLE: tests): no
// panic, and decode → encode → decode gives the same Message. They are
// seeded with every message of the C-* vectors of spec: F and one of
// every kind. Run each with e.g.
//
//	go test ./cloudproto -run '^$' -fuzz '^FuzzDecode$' -fuzztime 60s

// checkRoundTrip fails t unless b either fails to decode with a
// *DecodeError, or decodes to a Message whose encoding decodes to the same
// Message (notify.FuzzFromCloud maps what decodes to events).
func checkRoundTrip(t *testing.T, b []byte) {
	m, err := Decode(b)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) || !(errors.Is(err, ErrShort) || errors.Is(err, ErrLength) || errors.Is(err, ErrVersion)) {
			t.Fatalf("Decode(% x) error %v is not a *DecodeError with a sentinel", b, err)
		}
		if de.Offset > len(b) || de.Offset < 0 {
			t.Fatalf("Decode(% x) error %v: offset outside the message", b, err)
		}
		return
	}
	if m.Header.Length != len(b) || len(b) < m.Kind.MinSize() {
		t.Fatalf("Decode(% x) = %+v: length %d, min %d", b, m, len(b), m.Kind.MinSize())
	}
	enc := m.Append(nil)
	again, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode(% x) = %+v, whose encoding % x does not decode: %v", b, m, enc, err)
	}
	if diff := cmp.Diff(m, again); diff != "" {
		t.Fatalf("Decode(% x), encoded as % x and decoded again (-first +second):\n%s", b, enc, diff)
	}
	if enc2 := again.Append(nil); !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding is not stable: % x then % x", enc, enc2)
	}
	_ = AppendReplies(nil, &m, DefaultParams)
	_ = m.GUID()
	checkCommand(t, &m)
}

// checkCommand: the local command an M12 carries goes into an M12 again
// unchanged, and is answered; the reply an M6 carries decodes as a local
// reply or is an error, never a panic.
func checkCommand(t *testing.T, m *Message) {
	switch m.Kind {
	case KindCommand:
		req, err := m.Request()
		if err != nil {
			if !errors.Is(err, ErrCommandBody) {
				t.Fatalf("Request of %+v: %v is not ErrCommandBody", m, err)
			}
			return
		}
		again := CommandOf(m.Seq(), req)
		back, err := again.Request()
		if err != nil || !bytes.Equal(back.Append(nil), req.Append(nil)) {
			t.Fatalf("%q through CommandOf: %q, %v", req.Append(nil), back.Append(nil), err)
		}
		r, err := ResponseOf(m, protocol.Response{}.Append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := r.Reply(); err != nil || !got.Empty() || r.Seq() != m.Seq() {
			t.Fatalf("the empty answer to %+v: %+v, %v", m, got, err)
		}
	case KindCommandResponse:
		if r, err := m.Reply(); err == nil && !r.Empty() {
			if _, err := protocol.ParseResponse(r.Append(nil)); err != nil {
				t.Fatalf("Reply %+v does not encode as a reply: %v", r, err)
			}
		}
	}
}

func seeds(f testing.TB) [][]byte {
	var out [][]byte
	for _, e := range LoadVectors(f) {
		if b, ok := vectors.Hex(e.Fields["input_hex"]); ok {
			out = append(out, b)
		}
		for _, it := range vectors.Items(e.Fields["input_chunks"]) {
			if b, ok := vectors.Hex(it); ok {
				out = append(out, b)
			}
		}
	}
	return append(out, allMessages(f)...)
}

// FuzzDecode: arbitrary bytes, with message_length made to match when
// fix is set so that the fuzzer reaches the payloads.
func FuzzDecode(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, b []byte, fix bool) {
		if fix && len(b) >= BasicHeaderSize {
			b = bytes.Clone(b)
			binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
		}
		checkRoundTrip(t, b)
	})
}

// FuzzDecodePayload: a well-formed header of each kind (kind taken modulo
// the catalogue) in front of an arbitrary payload.
func FuzzDecodePayload(f *testing.F) {
	for _, b := range seeds(f) {
		if m, err := Decode(b); err == nil {
			f.Add(uint8(m.Kind), m.Header.Sequence, b[m.Kind.HeaderSize():])
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, seq uint16, payload []byte) {
		k := Kind(int(kind) % len(kinds))
		h := k.Header()
		if k == KindUnknown {
			h = Header{Code: 0x99, Source: DirDevice}
		}
		h.Sequence = seq
		b := appendHeader(nil, k, &h, 0)
		b = append(b, payload...)
		binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
		checkRoundTrip(t, b)
	})
}

// FuzzFramer: a stream cut into reads of a fuzzed size gives the same
// messages and drops the same bytes as the stream in one read; every
// byte is a message, dropped, or still buffered.
func FuzzFramer(f *testing.F) {
	// Short seeds: the fuzzer minimises every new input, and that takes
	// long on streams of kilobytes.
	all := seeds(f)
	for i, b := range all {
		next := all[(i+1)%len(all)]
		f.Add(bytes.Join([][]byte{b, next}, nil), uint8(i))
		f.Add(bytes.Join([][]byte{b, []byte("garbage\x00\x00\x00\x00"), next}, nil), uint8(i+7))
		f.Add(bytes.Join([][]byte{{0x01, 0x10, 0, 0, 0, 0, 0, 0}, b, next[:len(next)/2]}, nil), uint8(3))
		// A length in range but too long, with the next message inside
		// it (issue 13.17).
		if len(b) >= BasicHeaderSize {
			long := bytes.Clone(b)
			binary.LittleEndian.PutUint32(long[4:], uint32(len(b)+len(next)+3))
			f.Add(bytes.Join([][]byte{long, next, b}, nil), uint8(i+5))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte, size uint8) {
		n := int(size)%64 + 1
		msgs1, errs1, f1 := frames(stream)
		msgs2, errs2, f2 := frames(splitEvery(stream, n)...)
		if !cmp.Equal(msgs1, msgs2) {
			t.Fatalf("messages differ for reads of %d:\n% x\n% x", n, msgs1, msgs2)
		}
		if d1, d2 := droppedBytes(errs1), droppedBytes(errs2); !bytes.Equal(d1, d2) {
			t.Fatalf("dropped bytes differ for reads of %d:\n% x\n% x", n, d1, d2)
		}
		if !bytes.Equal(f1.Buffered(), f2.Buffered()) {
			t.Fatalf("buffered bytes differ")
		}
		total := len(f1.Buffered()) + len(droppedBytes(errs1))
		for _, m := range msgs1 {
			if l := int(messageLength(m)); l != len(m) || l < BasicHeaderSize || l > MaxMessageSize {
				t.Fatalf("message % x has message_length %d", m, l)
			}
			total += len(m)
			checkRoundTrip(t, m)
		}
		if total != len(stream) {
			t.Fatalf("%d bytes in, %d accounted for", len(stream), total)
		}
	})
}

func droppedBytes(errs []*FrameError) []byte {
	var out []byte
	for _, e := range errs {
		out = append(out, e.Dropped...)
	}
	return out
}
