package fastcgi

// A small FastCGI client (the web server's side), for tests only.

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, network, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout(network, addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// rec writes one record, any content length up to 65535.
func (c *client) rec(typ uint8, id uint16, content []byte) {
	c.t.Helper()
	_, err := c.nc.Write(appendRecord(nil, typ, id, content))
	require.NoError(c.t, err)
}

func (c *client) begin(id uint16, role Role, keep bool) {
	var b [8]byte
	binary.BigEndian.PutUint16(b[:], uint16(role))
	if keep {
		b[2] = flagKeepConn
	}
	c.rec(typeBeginRequest, id, b[:])
}

// params sends the pairs split into PARAMS records of at most chunk bytes,
// then the empty record.
func (c *client) params(id uint16, kv []string, chunk int) {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = appendPair(b, kv[i], kv[i+1])
	}
	c.stream(typeParams, id, b, chunk)
}

func (c *client) stream(typ uint8, id uint16, b []byte, chunk int) {
	for len(b) > 0 {
		n := min(chunk, len(b), maxContent)
		c.rec(typ, id, b[:n])
		b = b[n:]
	}
	c.rec(typ, id, nil)
}

type reply struct {
	stdout      []byte
	appStatus   uint32
	protoStatus uint8
	status      int
	header      http.Header
	body        string
}

func (c *client) read() (typ uint8, id uint16, content []byte, err error) {
	var h [8]byte
	if _, err = io.ReadFull(c.br, h[:]); err != nil {
		return
	}
	content = make([]byte, int(binary.BigEndian.Uint16(h[4:]))+int(h[6]))
	if _, err = io.ReadFull(c.br, content); err != nil {
		return
	}
	return h[1], binary.BigEndian.Uint16(h[2:]), content[:binary.BigEndian.Uint16(h[4:])], nil
}

// replies reads until every id in ids has its END_REQUEST.
func (c *client) replies(ids ...uint16) map[uint16]*reply {
	c.t.Helper()
	out := map[uint16]*reply{}
	for _, id := range ids {
		out[id] = &reply{}
	}
	for left := len(ids); left > 0; {
		typ, id, content, err := c.read()
		require.NoError(c.t, err)
		r := out[id]
		require.NotNil(c.t, r, "record type %d for unexpected id %d", typ, id)
		switch typ {
		case typeStdout:
			r.stdout = append(r.stdout, content...)
		case typeStderr:
		case typeEndRequest:
			require.Len(c.t, content, 8)
			r.appStatus, r.protoStatus = binary.BigEndian.Uint32(content), content[4]
			r.parse(c.t)
			left--
		default:
			c.t.Fatalf("unexpected record type %d", typ)
		}
	}
	return out
}

func (r *reply) parse(t testing.TB) {
	if len(r.stdout) == 0 {
		return
	}
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader(string(r.stdout))))
	h, err := tp.ReadMIMEHeader()
	require.NoError(t, err)
	r.header = http.Header(h)
	r.status = 200
	if s := h.Get("Status"); s != "" {
		r.status, err = strconv.Atoi(strings.Fields(s)[0])
		require.NoError(t, err)
	}
	rest, _ := io.ReadAll(tp.R)
	r.body = string(rest)
}

// do sends one whole request and returns its reply.
func (c *client) do(id uint16, role Role, keep bool, kv []string, body []byte) *reply {
	c.t.Helper()
	c.begin(id, role, keep)
	c.params(id, kv, maxContent)
	if role == RoleResponder {
		c.stream(typeStdin, id, body, maxContent)
	}
	return c.replies(id)[id]
}

// get is the params nginx would send for method and uri.
func cgiParams(method, uri string, extra ...string) []string {
	path, query, _ := strings.Cut(uri, "?")
	return append([]string{
		"REQUEST_METHOD", method, "REQUEST_URI", uri, "QUERY_STRING", query,
		"SCRIPT_NAME", path, "SERVER_PROTOCOL", "HTTP/1.1", "HTTP_HOST", "example.test",
		"SERVER_NAME", "example.test", "SERVER_PORT", "80", "REMOTE_ADDR", "127.0.0.1",
		"REMOTE_PORT", "40000", "GATEWAY_INTERFACE", "CGI/1.1",
	}, extra...)
}
