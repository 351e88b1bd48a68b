package nginx

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
)

// startAuthServer serves h on a loopback port; stopped by Shutdown.
func startAuthServer(t *testing.T, h http.Handler) (string, *authServer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &authServer{Handler: h, MaxHeader: 1024, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, s.Shutdown(ctx))
		assert.ErrorIs(t, <-done, errAuthServerClosed)
	})
	return ln.Addr().String(), s
}

// sub is an auth subrequest as the generated auth location sends it.
func sub(uri string, extra ...string) string {
	return "GET /.anyhost-auth HTTP/1.1\r\nHost: example.test\r\nX-Original-Method: GET\r\nX-Original-URI: " + uri +
		"\r\nX-Real-IP: 192.0.2.1\r\nX-Real-Port: 4242\r\n" + strings.Join(extra, "") + "\r\n"
}

func TestAuthServer(t *testing.T) {
	site := authSite(t, map[string]core.Handler{
		"/ok": core.HandlerFunc(func(r *core.Request) core.Status {
			r.User, r.AuthType = r.Header.Get("X-Name"), "Test"
			return core.OK
		}),
		"/401": core.HandlerFunc(func(r *core.Request) core.Status {
			r.ErrHeader().Add("WWW-Authenticate", `Basic realm="a"`)
			return http.StatusUnauthorized
		}),
		"/403": core.HandlerFunc(func(*core.Request) core.Status { return http.StatusForbidden }),
	})
	addr, _ := startAuthServer(t, &AuthHandler{Site: site, Log: testLog(t)})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func(req string) *http.Response {
		t.Helper()
		_, err := io.WriteString(c, req)
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		assert.Empty(t, b)
		return resp
	}
	// Many requests on one connection, as nginx keeps it.
	for range 3 {
		r := ask(sub("/ok/x", "X-Name: alice\r\n"))
		assert.Equal(t, 204, r.StatusCode)
		assert.Equal(t, "alice", r.Header.Get(HeaderUser))
		assert.Equal(t, "Test", r.Header.Get(HeaderAuthType))
		r = ask(sub("/401"))
		assert.Equal(t, 401, r.StatusCode)
		assert.Equal(t, `Basic realm="a"`, r.Header.Get("WWW-Authenticate"))
		assert.Equal(t, "0", r.Header.Get("Content-Length"), "nginx keeps the connection only with a length")
		assert.False(t, r.Close)
		r = ask(sub("/403"))
		assert.Equal(t, 403, r.StatusCode)
		r = ask(sub("/elsewhere"))
		assert.Equal(t, 204, r.StatusCode)
		assert.Empty(t, r.Header.Get(HeaderUser))
	}
	// A user name cannot add headers to the reply.
	r := ask(sub("/ok", "X-Name: eve\rX-Anyhost-Auth-Type: Admin\r\n"))
	assert.Equal(t, 204, r.StatusCode)
	assert.Equal(t, []string{"Test"}, r.Header.Values(HeaderAuthType))
	// Missing nginx headers: the handler's own 500.
	r = ask("GET /.anyhost-auth HTTP/1.1\r\nHost: x\r\n\r\n")
	assert.Equal(t, 500, r.StatusCode)
	assert.False(t, r.Close)
	// Connection: close is honoured.
	r = ask(sub("/ok", "Connection: close\r\n"))
	assert.Equal(t, 204, r.StatusCode)
	assert.True(t, r.Close)
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
}

// Anything nginx's auth location would not send ends the connection.
func TestAuthServerRefuses(t *testing.T) {
	site := authSite(t, nil)
	addr, _ := startAuthServer(t, &AuthHandler{Site: site, Log: testLog(t)})
	for name, c := range map[string]struct {
		req  string
		code int
	}{
		"a body":             {sub("/x", "Content-Length: 3\r\n") + "abc", 500},
		"chunked":            {sub("/x", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n", 500},
		"headers too large":  {sub("/x", "X-Big: "+strings.Repeat("b", 2000)+"\r\n"), 431},
		"bad request line":   {"GET /\r\n\r\n", 400},
		"HTTP/2 preface":     {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
		"header no colon":    {"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400},
		"space before colon": {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, c.req)
			require.NoError(t, err)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			assert.Equal(t, c.code, resp.StatusCode)
			assert.True(t, resp.Close)
		})
	}
	// HTTP/1.0 without keep-alive: one request.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, strings.Replace(sub("/x"), "HTTP/1.1", "HTTP/1.0", 1))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	assert.Equal(t, 204, resp.StatusCode)
	assert.True(t, resp.Close)
}

// Shutdown closes idle kept connections and lets a check in progress
// finish.
func TestAuthServerShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	site := authSite(t, map[string]core.Handler{
		"/slow": core.HandlerFunc(func(*core.Request) core.Status {
			close(entered)
			<-release
			return core.OK
		}),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &authServer{Handler: &AuthHandler{Site: site, Log: testLog(t)}, MaxHeader: 1024}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	idle, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer idle.Close()
	busy, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer busy.Close()
	_, err = io.WriteString(busy, sub("/slow"))
	require.NoError(t, err)
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	_, err = bufio.NewReader(idle).ReadByte()
	assert.ErrorIs(t, err, io.EOF, "the idle connection is closed")
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	require.NoError(t, err)
	assert.Equal(t, 204, resp.StatusCode)
	assert.True(t, resp.Close, "no more requests on a server shutting down")
	require.NoError(t, <-stopped)
	assert.ErrorIs(t, <-served, errAuthServerClosed)
}
