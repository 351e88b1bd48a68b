// Package fastcgi is anyhost's FastCGI 1.0 application side (the process a
// web server connects to), written from the specification: the Responder
// role runs the whole site for nginx and Apache's daemon mode; the
// Authorizer role runs the auth phases for Apache's mod_authnz_fcgi.
//
// This file is the wire format only: records, their types and the
// name-value pairs PARAMS and GET_VALUES carry.
package fastcgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/anyhost/anyhost/internal/secret"
)

// Record types (spec section 8).
const (
	typeBeginRequest    = 1
	typeAbortRequest    = 2
	typeEndRequest      = 3
	typeParams          = 4
	typeStdin           = 5
	typeStdout          = 6
	typeStderr          = 7
	typeData            = 8
	typeGetValues       = 9
	typeGetValuesResult = 10
	typeUnknownType     = 11
)

// Role is what the web server asks of the application in BEGIN_REQUEST.
type Role uint16

// Roles (spec section 6).
const (
	RoleResponder  Role = 1
	RoleAuthorizer Role = 2
	RoleFilter     Role = 3 // not served: answered with FCGI_UNKNOWN_ROLE
)

// flagKeepConn in BEGIN_REQUEST asks the application to keep the connection
// open after END_REQUEST.
const flagKeepConn = 1

// Protocol status in END_REQUEST.
const (
	statusRequestComplete = 0
	statusCantMpxConn     = 1
	statusOverloaded      = 2
	statusUnknownRole     = 3
)

const (
	version1   = 1
	headerLen  = 8
	maxContent = 65535 // content length is 16 bits
	maxPadding = 255
)

// Sentinel errors. A framing error (ErrVersion, ErrBadRecord, ErrShortPair
// in GET_VALUES) closes the connection: nothing after it can be trusted.
// ErrParamsTooLarge and ErrDuplicateParam fail only their request.
var (
	ErrVersion        = errors.New("fastcgi: unsupported protocol version")
	ErrShortPair      = errors.New("fastcgi: name-value pair truncated")
	ErrParamsTooLarge = errors.New("fastcgi: PARAMS stream too large")
	ErrDuplicateParam = errors.New("fastcgi: parameter sent twice")
	ErrBadRecord      = errors.New("fastcgi: malformed record")
	ErrAborted        = errors.New("fastcgi: request aborted by web server")
)

// maxParams bounds one request's PARAMS stream, so a peer cannot make the
// server buffer without limit. Web servers send a few KiB.
const maxParams = 1 << 20

// record is one record as read; content is valid until the next read.
type record struct {
	typ     uint8
	id      uint16
	content []byte
}

// recordReader reads records through a buffered reader into one reusable
// buffer, so reading a record neither allocates nor costs a syscall each.
type recordReader struct {
	br  *bufio.Reader
	hdr [headerLen]byte
	buf [maxContent]byte
}

func (rr *recordReader) next() (record, error) {
	if _, err := io.ReadFull(rr.br, rr.hdr[:]); err != nil {
		return record{}, err
	}
	if rr.hdr[0] != version1 {
		return record{}, ErrVersion
	}
	n := int(binary.BigEndian.Uint16(rr.hdr[4:6]))
	rec := record{typ: rr.hdr[1], id: binary.BigEndian.Uint16(rr.hdr[2:4]), content: rr.buf[:n]}
	if _, err := io.ReadFull(rr.br, rec.content); err != nil {
		return record{}, noEOF(err)
	}
	if _, err := rr.br.Discard(int(rr.hdr[6])); err != nil {
		return record{}, noEOF(err)
	}
	return rec, nil
}

// noEOF turns EOF inside a record into ErrUnexpectedEOF: only EOF between
// records is a clean close.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendHeader appends a record header for content of length n, padded to
// a multiple of 8 bytes as the spec recommends.
func appendHeader(b []byte, typ uint8, id uint16, n int) []byte {
	return append(b, version1, typ, byte(id>>8), byte(id), byte(n>>8), byte(n), byte(padLen(n)), 0)
}

func padLen(n int) int { return -n & 7 }

var zeros [8]byte

// appendRecord appends one complete record; content must fit in one.
func appendRecord(b []byte, typ uint8, id uint16, content []byte) []byte {
	b = appendHeader(b, typ, id, len(content))
	b = append(b, content...)
	return append(b, zeros[:padLen(len(content))]...)
}

// appendEndRequest appends END_REQUEST with the application's exit status
// and the protocol status.
func appendEndRequest(b []byte, id uint16, appStatus uint32, protoStatus uint8) []byte {
	var c [8]byte
	binary.BigEndian.PutUint32(c[:4], appStatus)
	c[4] = protoStatus
	return appendRecord(b, typeEndRequest, id, c[:])
}

// appendPair appends one name-value pair: each length in 1 byte below 128,
// else in 4 bytes with the top bit set.
func appendPair(b []byte, name, value string) []byte {
	b = appendPairLen(b, len(name))
	b = appendPairLen(b, len(value))
	b = append(b, name...)
	return append(b, value...)
}

func appendPairLen(b []byte, n int) []byte {
	if n < 128 {
		return append(b, byte(n))
	}
	return binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
}

// pairs calls fn for each name-value pair in b. The slices alias b. Every
// length is checked against what is left, so a hostile length cannot read
// out of bounds or make anything allocate.
func pairs(b []byte, fn func(name, value []byte) error) error {
	for len(b) > 0 {
		nl, rest, err := pairLen(b)
		if err != nil {
			return err
		}
		vl, rest, err := pairLen(rest)
		if err != nil {
			return err
		}
		if uint64(nl)+uint64(vl) > uint64(len(rest)) {
			return ErrShortPair
		}
		if err := fn(rest[:nl], rest[nl:nl+vl]); err != nil {
			return err
		}
		b = rest[nl+vl:]
	}
	return nil
}

func pairLen(b []byte) (int, []byte, error) {
	if len(b) == 0 {
		return 0, nil, ErrShortPair
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), b[1:], nil
	}
	if len(b) < 4 {
		return 0, nil, ErrShortPair
	}
	n := binary.BigEndian.Uint32(b) &^ (1 << 31)
	if n > uint32(len(b)-4) {
		return 0, nil, ErrShortPair
	}
	return int(n), b[4:], nil
}

// decodeParams decodes a whole PARAMS stream into a CGI environment.
//
// A name sent twice is never settled by "last one wins": nginx sends a
// param once per fastcgi_param line, so a duplicate means two config lines
// (or a client header) disagree. Client headers (HTTP_*) may legitimately
// repeat and are joined as HTTP joins repeated fields; the identity params
// (ANYHOST_USER, ANYHOST_AUTH_TYPE, ANYHOST_AUTH_DONE) must come exactly
// once; any other
// variable may repeat only with the same value (`fastcgi_param HTTPS on`
// next to fastcgi_params' own HTTPS line).
func decodeParams(b []byte) (map[string]string, error) {
	env := make(map[string]string, 32)
	err := pairs(b, func(n, v []byte) error {
		name := string(n)
		old, dup := env[name]
		switch {
		case !dup:
			env[name] = string(v)
		case name == paramUser || name == paramAuthType || name == ParamAuthDone ||
			name == secret.Param || name == ParamLocation:
			return ErrDuplicateParam
		case name == "HTTP_COOKIE":
			env[name] = old + "; " + string(v)
		case len(name) > 5 && name[:5] == "HTTP_":
			env[name] = old + ", " + string(v)
		case old != string(v):
			return ErrDuplicateParam
		}
		return nil
	})
	return env, err
}

// flushAt is how much framed output a stream holds before writing it out.
const flushAt = 32 << 10

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// outStream frames one request's STDOUT as it is written and hands the
// records to send in as few writes as it can: a small response, its
// closing empty STDOUT and END_REQUEST go out in one write syscall.
type outStream struct {
	send    func([]byte) error // writes whole records to the connection
	id      uint16
	buf     *[]byte
	open    int         // offset of the STDOUT record being filled; -1 if none
	discard atomic.Bool // set on ABORT_REQUEST: the web server wants nothing more
	err     error
}

func newOutStream(id uint16, send func([]byte) error) *outStream {
	b := outPool.Get().(*[]byte)
	return &outStream{send: send, id: id, buf: b, open: -1}
}

// Write appends p as STDOUT content, starting a new record each 65535 bytes.
func (s *outStream) Write(p []byte) (int, error) { return writeOut(s, p) }

// WriteString is Write for a string, without converting it.
func (s *outStream) WriteString(p string) (int, error) { return writeOut(s, p) }

func writeOut[T string | []byte](s *outStream, p T) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := len(p)
	for len(p) > 0 {
		b := *s.buf
		if s.open < 0 {
			s.open = len(b)
			b = append(b, zeros[:headerLen]...)
		}
		k := min(maxContent-(len(b)-s.open-headerLen), len(p))
		b = append(b, p[:k]...)
		*s.buf, p = b, p[k:]
		if len(b)-s.open-headerLen == maxContent {
			s.closeRecord()
		}
		if len(*s.buf) >= flushAt {
			if err := s.Flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// closeRecord fills in the open record's header and pads it.
func (s *outStream) closeRecord() {
	if s.open < 0 {
		return
	}
	b := *s.buf
	n := len(b) - s.open - headerLen
	appendHeader(b[s.open:s.open], typeStdout, s.id, n)
	*s.buf = append(b, zeros[:padLen(n)]...)
	s.open = -1
}

// Flush sends what is buffered now.
func (s *outStream) Flush() error {
	s.closeRecord()
	if s.err != nil || len(*s.buf) == 0 {
		return s.err
	}
	if !s.discard.Load() {
		s.err = s.send(*s.buf)
	}
	*s.buf = (*s.buf)[:0]
	return s.err
}

// end closes STDOUT with its empty record, appends END_REQUEST and sends
// everything in one write, then releases the buffer.
func (s *outStream) end(appStatus uint32, protoStatus uint8) error {
	s.closeRecord()
	b := *s.buf
	if s.discard.Load() {
		b = b[:0]
	} else {
		b = appendHeader(b, typeStdout, s.id, 0)
	}
	b = appendEndRequest(b, s.id, appStatus, protoStatus)
	err := s.err
	if err == nil {
		err = s.send(b)
	}
	if cap(b) <= 256<<10 {
		*s.buf = b[:0]
		outPool.Put(s.buf)
	}
	s.buf = nil
	s.err = errors.New("fastcgi: write after end of request")
	return err
}
