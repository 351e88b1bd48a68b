// Package wire reads and writes the flat records that cross between a web
// server's C module (mod_anyhost.c, and any other in-process bridge) and the Go library.
// The formats are specified in anyhost_wire.h, the C half, beside this
// file. The package has no cgo, so it is tested like any Go code; the C
// half is tested under AddressSanitizer (wire_c_test.go).
package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unsafe"
)

// ErrTruncated reports a record shorter than its contents say.
var ErrTruncated = errors.New("anyhost bridge: truncated record")

// Reader reads a record. Strings it returns share the record's memory, so
// it must be given memory that is never written again: Go memory, never
// Apache's request pool, which is reused once the request ends (the bridge
// copies the record first).
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset makes r read b.
func (r *Reader) Reset(b []byte) { r.b, r.err = b, nil }

// Err is the first error met.
func (r *Reader) Err() error { return r.err }

// U32 reads a uint32.
func (r *Reader) U32() uint32 {
	if len(r.b) < 4 {
		r.err = ErrTruncated
		r.b = nil
		return 0
	}
	v := binary.NativeEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// I64 reads an int64.
func (r *Reader) I64() int64 {
	if len(r.b) < 8 {
		r.err = ErrTruncated
		r.b = nil
		return 0
	}
	v := int64(binary.NativeEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// String reads a length-prefixed string without copying it.
func (r *Reader) String() string {
	n := int(r.U32())
	if n == 0 || r.err != nil {
		return ""
	}
	if len(r.b) < n {
		r.err = ErrTruncated
		r.b = nil
		return ""
	}
	s := unsafe.String(&r.b[0], n)
	r.b = r.b[n:]
	return s
}

// Request is the fixed part of a request record.
type Request struct {
	Kind          uint32
	LogLevel      uint32
	ContentLength int64
	Method        string
	URI           string
	Path          string
	Args          string
	Proto         string
	Host          string
	Scheme        string
	RemoteAddr    string
	User          string
	AuthType      string
	Handler       string
}

// ReadRequest reads the fixed part; the header and note pairs follow and are
// read with Pairs.
func (r *Reader) ReadRequest(q *Request) {
	q.Kind = r.U32()
	q.LogLevel = r.U32()
	q.ContentLength = r.I64()
	q.Method = r.String()
	q.URI = r.String()
	q.Path = r.String()
	q.Args = r.String()
	q.Proto = r.String()
	q.Host = r.String()
	q.Scheme = r.String()
	q.RemoteAddr = r.String()
	q.User = r.String()
	q.AuthType = r.String()
	q.Handler = r.String()
}

// Pairs reads a count and that many key/value string pairs, calling f for
// each.
func (r *Reader) Pairs(f func(k, v string)) {
	n := r.U32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		k := r.String()
		v := r.String()
		if r.err == nil {
			f(k, v)
		}
	}
}

// Response ops; see anyhost_wire.h.
const (
	OpStatus       = 'S'
	OpUser         = 'U'
	OpAuthType     = 'T'
	OpHeaderAdd    = 'H'
	OpHeaderUnset  = 'h'
	OpErrHeaderAdd = 'E'
	OpNote         = 'N'
	OpEnv          = 'V'
	OpPath         = 'P'
	OpBody         = 'B'
	OpRedirect     = 'R' // a local redirect to the path in value
	OpLog          = 'L' // nginx bridge: a log line (key: NGX_LOG_* level)
	OpClose        = 'C' // nginx bridge: close the connection after the response
)

// Writer builds a response record in a reusable buffer.
type Writer struct {
	Buf []byte
}

// Reset empties the record, keeping its buffer.
func (w *Writer) Reset() { w.Buf = w.Buf[:0] }

// Op appends an op with its key and value.
func (w *Writer) Op(op byte, k, v string) {
	w.Buf = append(w.Buf, op)
	w.Buf = binary.NativeEndian.AppendUint32(w.Buf, uint32(len(k)))
	w.Buf = append(w.Buf, k...)
	w.Buf = binary.NativeEndian.AppendUint32(w.Buf, uint32(len(v)))
	w.Buf = append(w.Buf, v...)
}

// Body appends body bytes.
func (w *Writer) Body(p []byte) {
	w.Buf = append(w.Buf, OpBody)
	w.Buf = binary.NativeEndian.AppendUint32(w.Buf, 0)
	w.Buf = binary.NativeEndian.AppendUint32(w.Buf, uint32(len(p)))
	w.Buf = append(w.Buf, p...)
}

// Status appends a status op.
func (w *Writer) Status(code int) {
	var b [8]byte
	w.Op(OpStatus, "", string(strconv.AppendInt(b[:0], int64(code), 10)))
}

// Spec is one entry of the table mod_anyhost builds at config time.
type Spec struct {
	ID, Kind, Phase uint32
	Name            string
	// Location is the <Location> path a handler directive is in; "" for
	// none (server config, <Directory>).
	Location string
	// Options in order; a key may repeat (provider chains).
	Options [][2]string
}

// Spec kinds.
const (
	SpecHandler  = 1
	SpecProvider = 2
	SpecSite     = 3
)

// ReadSpecs reads the spec table given to anyhost_init. Strings are copied:
// the table outlives the call.
func ReadSpecs(b []byte) (serverRoot string, specs []Spec, err error) {
	r := NewReader(b)
	serverRoot = clone(r.String())
	n := r.U32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		s := Spec{ID: r.U32(), Kind: r.U32(), Phase: r.U32(), Name: clone(r.String()), Location: clone(r.String())}
		nopts := r.U32()
		for j := uint32(0); j < nopts && r.err == nil; j++ {
			k, v := clone(r.String()), clone(r.String())
			s.Options = append(s.Options, [2]string{k, v})
		}
		specs = append(specs, s)
	}
	return serverRoot, specs, r.err
}

func clone(s string) string { return string([]byte(s)) }
