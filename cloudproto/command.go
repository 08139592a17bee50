package cloudproto

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/g90alarm/g90/protocol"
)

// A command over the cloud link carries a local protocol command: an M12
// holds the command's code twice and its parameters, and the panel's M6
// holds the body of the reply the local protocol would give (spec:
// notifications-and-cloud.md D.5.8, D.5.9). The functions below convert
// between the two, so that a command's parameters and its reply are
// encoded and checked by the one local codec (package protocol), whatever
// carries them.
//
// [INFERRED] from two observed M12 and one M6 (spec: F.6 CH-RELAY-1,
// CH-RELAY-2, F.4 C-COMMAND-RESPONSE; G.7, G.8): that the M12 body is
// the local request's third element, written empty instead of `""` when
// there are no parameters; that a system command (local shape D) is code
// 0, sub-code 100 with the AT string as a JSON string; that an M6 body
// of an empty, "fail" or "error…" reply is that text as in a local reply;
// that both sequence fields of the M6 repeat the M12's sequence. The
// fixed values unknown1 = 2, unknown2 = 5 (M12) and 1, 0 (M6) are sent
// as observed, their meaning unknown.
const (
	commandUnknown1  = 2 // M12, observed
	commandUnknown2  = 5 // M12, observed
	responseUnknown1 = 1 // M6, observed
)

// Errors of the command conversions, wrapped with what was wrong.
var (
	// ErrNotCommand: the message is not an M12 or not an M6.
	ErrNotCommand = errors.New("cloudproto: not a command message")
	// ErrCommandBody: the JSON of an M12 or M6 is not NUL-terminated text,
	// or the local codec rejects it.
	ErrCommandBody = errors.New("cloudproto: bad command body")
)

// CommandOf returns the M12 that sends req to a panel over its cloud
// connection, with sequence seq; the panel's M6 answer repeats it (spec:
// D.5.8, D.5.9).
func CommandOf(seq uint16, req protocol.Request) Message {
	m := Message{Kind: KindCommand, Header: KindCommand.Header()}
	m.Header.Sequence = seq
	code, sub := req.Codes()
	m.Command = Command{Unknown1: commandUnknown1, CommandCode: uint16(code), SubcommandCode: uint16(sub), Unknown2: commandUnknown2}
	if req.System != "" || req.Params.Kind == protocol.Array {
		m.Body = req.AppendParams(m.Body)
	} // else no parameters: the body is the NUL alone, not ""
	m.Body = append(m.Body, 0)
	return m
}

// Request returns the local protocol command an M12 carries, checked by
// the same parser a panel's command port uses (protocol.ParseRequest).
func (m *Message) Request() (protocol.Request, error) {
	if m.Kind != KindCommand {
		return protocol.Request{}, fmt.Errorf("%w: %v", ErrNotCommand, m.Kind)
	}
	params, err := text(m.Body)
	if err != nil {
		return protocol.Request{}, err
	}
	if len(params) == 0 {
		params = []byte(`""`)
	}
	c := &m.Command
	body := make([]byte, 0, len(params)+16)
	body = append(body, '[')
	body = strconv.AppendUint(body, uint64(c.CommandCode), 10)
	body = append(body, ',')
	body = strconv.AppendUint(body, uint64(c.SubcommandCode), 10)
	body = append(body, ',')
	body = append(body, params...)
	body = append(body, ']')
	req, err := protocol.ParseRequest(protocol.Frame(nil, body))
	if err != nil {
		return protocol.Request{}, fmt.Errorf("%w: %w", ErrCommandBody, err)
	}
	return req, nil
}

// ResponseOf returns the M6 with which a panel answers cmd, an M12, with
// reply, the datagram its command port would send for the same command
// (spec: D.5.8).
func ResponseOf(cmd *Message, reply []byte) (Message, error) {
	if cmd.Kind != KindCommand {
		return Message{}, fmt.Errorf("%w: %v", ErrNotCommand, cmd.Kind)
	}
	body, err := protocol.Unframe(reply)
	if err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrCommandBody, err)
	}
	seq := int32(cmd.Header.Sequence)
	m := Message{Kind: KindCommandResponse, Header: KindCommandResponse.Header()}
	m.Response = CommandResponse{
		Unknown1: responseUnknown1, Seq1: seq, Seq2: seq,
		CommandCode: cmd.Command.CommandCode, SubcommandCode: cmd.Command.SubcommandCode,
	}
	m.Body = append(append(make([]byte, 0, len(body)+1), body...), 0)
	return m, nil
}

// Reply returns the local protocol reply an M6 carries, checked as a
// reply datagram is (protocol.ParseResponse): a "fail" or "error…" body
// is a *protocol.PanelError, an empty one the empty Response.
func (m *Message) Reply() (protocol.Response, error) {
	if m.Kind != KindCommandResponse {
		return protocol.Response{}, fmt.Errorf("%w: %v", ErrNotCommand, m.Kind)
	}
	body, err := text(m.Body)
	if err != nil {
		return protocol.Response{}, err
	}
	return protocol.ParseResponse(protocol.Frame(nil, body))
}

// Seq returns the sequence an M6 answers (its first sequence field) or
// an M12 carries.
func (m *Message) Seq() uint16 {
	if m.Kind == KindCommandResponse {
		return uint16(m.Response.Seq1)
	}
	return m.Header.Sequence
}

// text returns a command body without its NUL: JSON text contains none
// (spec: D.6.1).
func text(body []byte) ([]byte, error) {
	b, ok := bytes.CutSuffix(body, []byte{0})
	if !ok || bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("%w: not one NUL-terminated text", ErrCommandBody)
	}
	return b, nil
}
