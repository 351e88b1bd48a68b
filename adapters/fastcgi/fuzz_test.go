package fastcgi

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fuzzConn is a connection whose peer sends fixed bytes and then closes;
// what the server writes is dropped.
type fuzzConn struct{ r *bytes.Reader }

func (c fuzzConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c fuzzConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c fuzzConn) Close() error                     { return nil }
func (c fuzzConn) LocalAddr() net.Addr              { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c fuzzConn) RemoteAddr() net.Addr             { return &net.UnixAddr{Name: "fuzz", Net: "unix"} }
func (c fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c fuzzConn) SetWriteDeadline(time.Time) error { return nil }

func seedStream(role Role, flags byte, kv []string, stdin []byte) []byte {
	b := appendRecord(nil, typeBeginRequest, 1, []byte{0, byte(role), flags, 0, 0, 0, 0, 0})
	var p []byte
	for i := 0; i+1 < len(kv); i += 2 {
		p = appendPair(p, kv[i], kv[i+1])
	}
	b = appendRecord(b, typeParams, 1, p)
	b = appendRecord(b, typeParams, 1, nil)
	if len(stdin) > 0 {
		b = appendRecord(b, typeStdin, 1, stdin)
	}
	return appendRecord(b, typeStdin, 1, nil)
}

// FuzzRecords feeds arbitrary bytes to the server's connection loop and to
// the params decoder: neither may panic, allocate without bound (PARAMS is
// capped at maxParams, records at 64 KiB) or hang (the loop must end at EOF
// with every request finished).
func FuzzRecords(f *testing.F) {
	f.Add(seedStream(RoleResponder, flagKeepConn, cgiParams("GET", "/hello"), nil))
	f.Add(seedStream(RoleResponder, 0, cgiParams("POST", "/echo", "CONTENT_LENGTH", "3"), []byte("abc")))
	f.Add(seedStream(RoleAuthorizer, 0, cgiParams("GET", "/private", "REMOTE_USER", "demo", "REMOTE_PASSWD", "demo"), nil))
	f.Add(seedStream(RoleResponder, 0, cgiParams("GET", "/panic", "ANYHOST_USER", "a", "ANYHOST_USER", "b"), nil))
	f.Add(appendRecord(nil, typeGetValues, 0, appendPair(nil, "FCGI_MPXS_CONNS", "")))
	f.Add(append(seedStream(RoleResponder, flagKeepConn, cgiParams("GET", "/echo"), nil), appendRecord(nil, typeAbortRequest, 1, nil)...))
	f.Add([]byte{1, 99, 0, 0, 0, 0, 0, 0})
	s := &Server{Site: demoSite(f), Log: zerolog.Nop()}
	s.init()
	f.Fuzz(func(t *testing.T, data []byte) {
		if env, err := decodeParams(data); err == nil && len(env) > len(data) {
			t.Fatalf("%d params from %d bytes", len(env), len(data))
		}
		done := make(chan struct{})
		go func() {
			s.newConn(fuzzConn{bytes.NewReader(data)}).serve()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("connection loop did not end after EOF")
		}
	})
}
