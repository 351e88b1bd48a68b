package nginx

// This file is the server side of the auth socket: a small HTTP/1.1 server
// for nginx's auth_request subrequests, which runs AuthHandler.
//
// Why not net/http: a subrequest is a header-only GET on a connection nginx
// keeps, answered by an empty 204/401/403/500, and for such a request
// net/http's own work cost as much as the check (profiled under the bench's
// /authz row): a background read goroutine started and stopped for every
// bodiless request, a fresh header map, a Date header. Here a connection is
// one goroutine that reads a request, runs the handler and writes the reply
// in one write; the handler is still an http.Handler, so it stays testable
// with net/http/httptest and servable by net/http.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/internal/listen"
)

// authServer serves Handler to nginx. Only what nginx's auth location sends
// is accepted: HTTP/1.x requests without a body (the generated config sets
// proxy_pass_request_body off and an empty Content-Length); anything else is
// answered 400 (unparsable), 431 (headers over MaxHeader) or 500 (a body),
// and the connection closed.
type authServer struct {
	Handler http.Handler
	// MaxHeader bounds the request line and headers together, in bytes.
	MaxHeader int
	// ReadHeaderTimeout bounds reading one request; IdleTimeout the wait
	// for the next one on a kept connection; WriteTimeout writing a reply
	// (0: none).
	ReadHeaderTimeout, IdleTimeout, WriteTimeout time.Duration
	// ConnState, if set, is told of connections as http.Server tells it.
	ConnState func(net.Conn, http.ConnState)
	// Log gets a line for a panic that escaped Handler (the connection is
	// then closed, as net/http does).
	Log zerolog.Logger

	tracked listen.Conns[*authConn]
}

type authConn struct {
	nc     net.Conn
	active atomic.Bool // a request is being read or answered
}

// CloseIfIdle closes the connection between requests (listen.Conn).
func (c *authConn) CloseIfIdle() {
	if !c.active.Load() {
		c.nc.Close()
	}
}

// Close closes the connection, a request in progress or not.
func (c *authConn) Close() error { return c.nc.Close() }

var errAuthServerClosed = errors.New("nginx: auth server closed")

// Serve accepts connections on ln until Shutdown.
func (s *authServer) Serve(ln net.Listener) error {
	if !s.tracked.AddListener(ln) {
		return errAuthServerClosed
	}
	defer s.tracked.RemoveListener(ln)
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.tracked.ShuttingDown() {
				return errAuthServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		c := &authConn{nc: nc}
		if !s.tracked.Add(c) {
			nc.Close()
			continue
		}
		s.state(nc, http.StateNew)
		go s.serveConn(c)
	}
}

// Shutdown stops accepting, closes idle connections and waits for replies
// in progress; when ctx ends first it closes every connection.
func (s *authServer) Shutdown(ctx context.Context) error { return s.tracked.Shutdown(ctx) }

func (s *authServer) state(nc net.Conn, st http.ConnState) {
	if s.ConnState != nil {
		s.ConnState(nc, st)
	}
}

func (s *authServer) serveConn(c *authConn) {
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		if v := recover(); v != nil {
			s.Log.Error().Interface("panic", v).Msg("nginx: auth handler panicked; connection closed")
		}
		cancel()
		c.nc.Close()
		s.tracked.Remove(c)
		s.state(c.nc, http.StateClosed)
	}()
	// One line may be as long as all the headers together.
	br := bufio.NewReaderSize(c.nc, max(s.MaxHeader, 4<<10))
	var out []byte
	w := &authReply{header: make(http.Header, 4)}
	req := (&http.Request{Header: make(http.Header, 16), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Body: http.NoBody}).WithContext(ctx)
	for {
		if s.IdleTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		c.active.Store(true)
		s.state(c.nc, http.StateActive)
		if s.ReadHeaderTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(s.ReadHeaderTimeout))
		}
		clear(req.Header)
		code, keep := s.readRequest(br, req)
		clear(w.header)
		w.code = 0
		if code == 0 {
			s.Handler.ServeHTTP(w, req)
			code = w.code
			if code == 0 {
				code = http.StatusOK
			}
		} else {
			keep = false
		}
		keep = keep && !s.tracked.ShuttingDown()
		out = appendReply(out[:0], code, w.header, keep)
		if s.WriteTimeout > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
		}
		if _, err := c.nc.Write(out); err != nil || !keep {
			return
		}
		c.active.Store(false)
		s.state(c.nc, http.StateIdle)
	}
}

// readRequest reads one request's line and headers into req. It returns 0
// and whether the connection may be kept, or the status to answer before
// closing.
func (s *authServer) readRequest(br *bufio.Reader, req *http.Request) (code int, keep bool) {
	budget := s.MaxHeader
	line := func() ([]byte, int) {
		b, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull) || len(b) > budget:
			return nil, http.StatusRequestHeaderFieldsTooLarge
		case err != nil:
			return nil, http.StatusBadRequest
		}
		budget -= len(b)
		return bytes.TrimRight(b, "\r\n"), 0
	}
	b, code := line()
	if code != 0 {
		return code, false
	}
	method, rest, ok1 := bytes.Cut(b, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 {
		return http.StatusBadRequest, false
	}
	switch string(proto) {
	case "HTTP/1.1":
		keep = true
	case "HTTP/1.0":
	default:
		return http.StatusBadRequest, false
	}
	req.Method, req.RequestURI, req.Host = string(method), string(target), ""
	for {
		b, code := line()
		if code != 0 {
			return code, false
		}
		if len(b) == 0 {
			break
		}
		name, value, ok := bytes.Cut(b, []byte{':'})
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return http.StatusBadRequest, false
		}
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		v := string(bytes.TrimSpace(value))
		switch key {
		case "Host":
			req.Host = v
			continue
		case "Connection":
			if strings.EqualFold(v, "close") {
				keep = false
			}
		case "Content-Length":
			if v != "" && v != "0" {
				return http.StatusInternalServerError, false
			}
		case "Transfer-Encoding":
			return http.StatusInternalServerError, false
		}
		req.Header[key] = append(req.Header[key], v)
	}
	return 0, keep
}

// appendReply writes the reply: status line, headers (CR and LF in values
// become spaces, so a user name cannot add headers), and an empty body.
func appendReply(b []byte, code int, h http.Header, keep bool) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(code)...)
	b = append(b, "\r\n"...)
	for k, vs := range h {
		if k == "" || strings.ContainsAny(k, "\r\n: \t") || k == "Content-Length" || k == "Connection" {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			for i := 0; i < len(v); i++ {
				if c := v[i]; c == '\r' || c == '\n' {
					b = append(b, ' ')
				} else {
					b = append(b, c)
				}
			}
			b = append(b, "\r\n"...)
		}
	}
	if code != http.StatusNoContent && code >= 200 {
		// nginx keeps the connection only for a 204 or a known length.
		b = append(b, "Content-Length: 0\r\n"...)
	}
	if !keep {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// authReply is the http.ResponseWriter the handler answers through: the
// status and headers are kept, any body is dropped (auth replies have none).
type authReply struct {
	header http.Header
	code   int
}

func (w *authReply) Header() http.Header { return w.header }

func (w *authReply) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *authReply) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}
