package cloudproto

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrFraming is wrapped by every *FrameError.
var ErrFraming = errors.New("cloudproto: framing error")

// FrameError reports bytes the Framer dropped: a message_length below 8 or
// above MaxMessageSize, or one that runs past where a message of its kind
// ends and the next one starts, and everything up to where a message
// plausibly starts again (spec: D.6.2, D.12).
type FrameError struct {
	// Offset is the position of the first dropped byte in the stream.
	Offset int64
	// Length is the message_length that was rejected, or 0 when the
	// bytes were dropped while resynchronising after an earlier error.
	Length int32
	// Overrun is set when Length was in range but wrong: a message
	// header begins where the message ends by its layout.
	Overrun bool
	// Dropped are the bytes dropped, aliasing the Framer's buffer until
	// the next Feed.
	Dropped []byte
}

func (e *FrameError) Error() string {
	why := ""
	if e.Overrun {
		why = " runs into the next message"
	}
	return fmt.Sprintf("%v: message_length %d at stream offset %d%s; dropped %d bytes", ErrFraming, e.Length, e.Offset, why, len(e.Dropped))
}

func (e *FrameError) Unwrap() error { return ErrFraming }

// Framer cuts a TCP byte stream into messages by their message_length,
// whatever the reads look like: a message split across reads is
// reassembled, several in one read come out one by one (spec: D.6.2). The
// zero Framer is ready to use.
//
// A message_length below 8 or above MaxMessageSize is a framing error. The
// Framer then drops bytes up to the next position where a message of the
// catalogue (spec: D.4) plausibly starts — known command, source and
// destination, flag 00, a length that fits the kind — so a burst of
// garbage costs only itself, not the messages around it. Unknown kinds
// with a sane length pass, as the spec wants (spec: D.12).
//
// A length in range can still be wrong, and a message that claims more
// bytes than it has would swallow the messages after it, or hold them up
// until enough bytes came to fill it: the connection stalls. So a
// message of a known kind is also a framing error when a message header
// (plausible as above, with a length that fits its kind) begins where the
// message ends by its layout and before its message_length says: right
// after the fixed fields of the kinds that have nothing else (spec: D.4,
// column Total), after the NUL that ends the JSON body of the others
// (spec: D.5.7-D.5.9; JSON text has no NUL). The Framer decides this as
// soon as the following header is buffered, so it resynchronises on it
// without waiting for the claimed length. A longer message with no such
// header inside passes (spec: D.6.1 (c)). The rule is g90's ([REC],
// spec: D.6.2).
type Framer struct {
	buf []byte
	r   int   // read position in buf
	off int64 // stream offset of buf[r]
	// resync is set after a framing error until a message is accepted:
	// a message must then plausibly start where the garbage ended.
	resync bool
}

// Feed appends the bytes of one read. Call Next until it returns nil
// before feeding more, which bounds the buffer to one message and a read.
func (f *Framer) Feed(p []byte) {
	if f.r > 0 {
		n := copy(f.buf, f.buf[f.r:])
		f.buf, f.r = f.buf[:n], 0
	}
	f.buf = append(f.buf, p...)
}

// Next returns the next complete message, or nil when more bytes are
// needed, or a *FrameError for bytes it dropped. The message aliases the
// Framer's buffer until the next Feed.
func (f *Framer) Next() ([]byte, error) {
	rest := f.buf[f.r:]
	if f.resync && len(rest) > 0 && !plausible(rest) {
		return nil, f.drop(rest, 0, 1)
	}
	if len(rest) < BasicHeaderSize {
		return nil, nil
	}
	n := messageLength(rest)
	if n < BasicHeaderSize || n > MaxMessageSize {
		return nil, f.drop(rest, n, 1)
	}
	if overrun(rest, int(n)) {
		err := f.drop(rest, n, 1)
		err.Overrun = true
		return nil, err
	}
	if len(rest) < int(n) {
		return nil, nil
	}
	f.r += int(n)
	f.off += int64(n)
	f.resync = false
	return rest[:n:n], nil
}

// drop drops rest[:from] and then everything up to the next plausible
// message start.
func (f *Framer) drop(rest []byte, length int32, from int) *FrameError {
	q := from
	for q < len(rest) && !plausible(rest[q:]) {
		q++
	}
	err := &FrameError{Offset: f.off, Length: length, Dropped: rest[:q:q]}
	f.r += q
	f.off += int64(q)
	f.resync = true
	return err
}

// Offset returns the stream offset of the first byte Next has not
// consumed: of Buffered()[0]. A relay uses it to tell whether a read
// begins with the rest of a message begun in an earlier one.
func (f *Framer) Offset() int64 { return f.off }

// Buffered returns the bytes of an incomplete message held for the next
// Feed; a server logs them when the connection closes (spec: D.6.2).
func (f *Framer) Buffered() []byte { return f.buf[f.r:] }

// plausible reports whether b, which may be a prefix of less than a
// header, can be the start of a message of the catalogue.
func plausible(b []byte) bool {
	for k := KindPing; int(k) < len(kinds); k++ {
		i := &kinds[k]
		switch {
		case b[0] != byte(i.code):
		case len(b) > 1 && b[1] != byte(i.src):
		case len(b) > 2 && b[2] != 0:
		case len(b) > 3 && b[3] != byte(i.dst):
		case len(b) >= BasicHeaderSize && (messageLength(b) < int32(k.MinSize()) || messageLength(b) > MaxMessageSize):
		default:
			return true
		}
	}
	return false
}

// overrun reports whether the message of message_length n at the start of
// b, which holds its first bytes, plainly ends before n: a plausible
// message header lies where it ends by its layout, within n. It looks at
// b[:n] only, so a stream cut into other reads gives the same answer.
func overrun(b []byte, n int) bool {
	k := Lookup(Code(b[0]), Direction(b[1]), Direction(b[3]))
	if k == KindUnknown {
		return false
	}
	b = b[:min(len(b), n)]
	end := k.MinSize()
	if !kinds[k].exact {
		nul := bytes.IndexByte(b[min(end, len(b)):], 0)
		if nul < 0 {
			return false
		}
		end += nul + 1
	}
	return end+BasicHeaderSize <= len(b) && plausible(b[end:])
}
