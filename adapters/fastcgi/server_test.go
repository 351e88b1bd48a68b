package fastcgi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/anyhost/anyhost/builtin"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/handlers/demo"
	"github.com/anyhost/anyhost/internal/secret"
)

// testSecret is what the web server sends in tests with a secret.
const testSecret = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF"

func demoSite(t testing.TB) *core.Site {
	t.Helper()
	cfg, err := config.Parse("demo", ".", demo.SiteTOML)
	require.NoError(t, err)
	site, err := cfg.Build()
	require.NoError(t, err)
	return site
}

// start serves the demo site on a fresh listener and returns its address;
// the server accepts the secrets given, if any.
func start(t testing.TB, network string, secrets ...string) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "fcgi.sock")
	}
	ln, err := net.Listen(network, addr)
	require.NoError(t, err)
	s := &Server{Site: demoSite(t), Log: testLog(t)}
	if len(secrets) > 0 {
		s.Secrets = new(secret.Set)
		s.Secrets.Replace(secrets)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, s.Shutdown(ctx))
		assert.ErrorIs(t, <-done, ErrServerClosed)
	})
	return ln.Addr().String()
}

var networks = []string{"tcp", "unix"}

func echoOf(t *testing.T, r *reply) demo.Echo {
	t.Helper()
	require.Equal(t, 200, r.status, r.body)
	var e demo.Echo
	require.NoError(t, json.Unmarshal([]byte(r.body), &e))
	return e
}

func TestResponder(t *testing.T) {
	for _, network := range networks {
		addr := start(t, network)
		t.Run(network, func(t *testing.T) {
			t.Run("hello", func(t *testing.T) {
				r := dial(t, network, addr).do(1, RoleResponder, false, cgiParams("GET", "/hello"), nil)
				assert.Equal(t, 200, r.status)
				assert.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
				assert.Equal(t, "Hello!", r.body)
				assert.Equal(t, uint8(statusRequestComplete), r.protoStatus)
			})
			for _, size := range []int{0, 1, 64 << 10, 10 << 20} {
				t.Run("echo "+strconv.Itoa(size), func(t *testing.T) {
					body := make([]byte, size)
					for i := range body {
						body[i] = byte(i * 7)
					}
					c := dial(t, network, addr)
					c.begin(1, RoleResponder, false)
					c.params(1, cgiParams("POST", "/echo?a=b", "CONTENT_LENGTH", strconv.Itoa(size),
						"CONTENT_TYPE", "application/octet-stream"), maxContent)
					c.stream(typeStdin, 1, body, 10000) // many STDIN records
					e := echoOf(t, c.replies(1)[1])
					sum := sha256.Sum256(body)
					assert.Equal(t, hex.EncodeToString(sum[:]), e.BodySHA256)
					assert.Equal(t, int64(size), e.BodyLength)
					assert.Equal(t, "POST", e.Method)
					assert.Equal(t, "/echo?a=b", e.URI)
					assert.Equal(t, "/echo", e.Path)
					assert.Equal(t, "a=b", e.Query)
					assert.Equal(t, "127.0.0.1:40000", e.RemoteAddr)
					assert.Equal(t, Adapter, e.Adapter)
					assert.Equal(t, "application/octet-stream", e.Headers.Get("Content-Type"))
				})
			}
			t.Run("keep-conn", func(t *testing.T) {
				c := dial(t, network, addr)
				for i := range 3 {
					r := c.do(uint16(i+1), RoleResponder, true, cgiParams("GET", "/hello"), nil)
					assert.Equal(t, "Hello!", r.body, "request %d", i)
				}
			})
			t.Run("multiplexed", func(t *testing.T) {
				c := dial(t, network, addr)
				c.begin(1, RoleResponder, true)
				c.begin(2, RoleResponder, true)
				c.params(2, cgiParams("POST", "/echo", "CONTENT_LENGTH", "6"), 7)
				c.params(1, cgiParams("GET", "/hello"), 5)
				c.rec(typeStdin, 2, []byte("abc"))
				c.rec(typeStdin, 1, nil)
				c.rec(typeStdin, 2, []byte("def"))
				c.rec(typeStdin, 2, nil)
				rs := c.replies(1, 2)
				assert.Equal(t, "Hello!", rs[1].body)
				assert.Equal(t, int64(6), echoOf(t, rs[2]).BodyLength)
			})
			t.Run("params split", func(t *testing.T) {
				c := dial(t, network, addr)
				c.begin(1, RoleResponder, false)
				c.params(1, cgiParams("GET", "/echo", "HTTP_X_LONG", strings.Repeat("x", 300)), 3)
				c.rec(typeStdin, 1, nil)
				e := echoOf(t, c.replies(1)[1])
				assert.Equal(t, strings.Repeat("x", 300), e.Headers.Get("X-Long"))
			})
			t.Run("no identity without a secret", func(t *testing.T) {
				c := dial(t, network, addr)
				e := echoOf(t, c.do(1, RoleResponder, false, cgiParams("GET", "/echo",
					"REMOTE_USER", "mallory", "AUTH_TYPE", "Basic"), nil))
				assert.Equal(t, "", e.User, "REMOTE_USER is the client's unverified name")
				e = echoOf(t, dial(t, network, addr).do(1, RoleResponder, false, cgiParams("GET", "/echo",
					"ANYHOST_USER", "alice", "ANYHOST_AUTH_TYPE", "Bearer", secret.Param, testSecret), nil))
				assert.Equal(t, "", e.User, "this server has no secret: nothing proves the peer is the web server")
				assert.NotContains(t, e.Headers, "Anyhost-Secret")
				// The auth phases run here instead.
				r := dial(t, network, addr).do(1, RoleResponder, false, cgiParams("GET", "/private",
					"ANYHOST_USER", "demo", ParamAuthDone, "1", ParamLocation, "/private"), nil)
				assert.Equal(t, 401, r.status)
			})
			t.Run("duplicate ANYHOST_USER", func(t *testing.T) {
				r := dial(t, network, addr).do(1, RoleResponder, false, cgiParams("GET", "/echo",
					"ANYHOST_USER", "alice", "ANYHOST_USER", "bob"), nil)
				assert.Equal(t, 500, r.status)
			})
			t.Run("panic then next", func(t *testing.T) {
				c := dial(t, network, addr)
				r := c.do(1, RoleResponder, true, cgiParams("GET", "/panic"), nil)
				assert.Equal(t, 500, r.status)
				r = c.do(1, RoleResponder, true, cgiParams("GET", "/hello"), nil)
				assert.Equal(t, "Hello!", r.body)
			})
			t.Run("abort", func(t *testing.T) {
				c := dial(t, network, addr)
				c.begin(1, RoleResponder, true)
				c.params(1, cgiParams("POST", "/echo", "CONTENT_LENGTH", "100"), maxContent)
				c.rec(typeStdin, 1, []byte("partial"))
				c.rec(typeAbortRequest, 1, nil)
				r := c.replies(1)[1]
				assert.Equal(t, uint8(statusRequestComplete), r.protoStatus)
				assert.Empty(t, r.stdout, "output after abort is dropped")
				assert.Equal(t, "Hello!", c.do(2, RoleResponder, true, cgiParams("GET", "/hello"), nil).body)
			})
		})
	}
}

func TestManagementRecords(t *testing.T) {
	addr := start(t, "tcp")
	tests := []struct {
		name  string
		send  func(c *client)
		check func(t *testing.T, typ uint8, id uint16, content []byte)
	}{
		{"get values", func(c *client) {
			var b []byte
			for _, n := range []string{"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS", "OTHER", "FCGI_MPXS_CONNS"} {
				b = appendPair(b, n, "")
			}
			c.rec(typeGetValues, 0, b)
		}, func(t *testing.T, typ uint8, id uint16, content []byte) {
			assert.Equal(t, uint8(typeGetValuesResult), typ)
			got := map[string]string{}
			require.NoError(t, pairs(content, func(n, v []byte) error { got[string(n)] = string(v); return nil }))
			assert.Equal(t, map[string]string{"FCGI_MAX_CONNS": "1024", "FCGI_MAX_REQS": "512", "FCGI_MPXS_CONNS": "1"}, got)
		}},
		{"unknown type", func(c *client) { c.rec(42, 0, []byte("x")) },
			func(t *testing.T, typ uint8, id uint16, content []byte) {
				assert.Equal(t, uint8(typeUnknownType), typ)
				assert.Equal(t, []byte{42, 0, 0, 0, 0, 0, 0, 0}, content)
			}},
		{"unknown role", func(c *client) { c.begin(1, RoleFilter, true) },
			func(t *testing.T, typ uint8, id uint16, content []byte) {
				assert.Equal(t, uint8(typeEndRequest), typ)
				assert.Equal(t, uint16(1), id)
				assert.Equal(t, uint8(statusUnknownRole), content[4])
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, "tcp", addr)
			tt.send(c)
			typ, id, content, err := c.read()
			require.NoError(t, err)
			tt.check(t, typ, id, content)
			// The connection is still usable.
			assert.Equal(t, "Hello!", c.do(7, RoleResponder, true, cgiParams("GET", "/hello"), nil).body)
		})
	}
}

// With a secret, the web server's word is believed: the user it
// authenticated, and that the auth phases ran (ANYHOST_AUTH_DONE, for the
// location it names). A request without the secret is refused.
func TestResponderWithSecret(t *testing.T) {
	addr := start(t, "tcp", "previous-secret-still-accepted-0123456789", testSecret)
	do := func(uri string, extra ...string) *reply {
		return dial(t, "tcp", addr).do(1, RoleResponder, false, cgiParams("GET", uri, extra...), nil)
	}
	done := []string{ParamAuthDone, "1", ParamLocation, "/echo"}
	e := echoOf(t, do("/echo", append(done, "ANYHOST_USER", "alice", "ANYHOST_AUTH_TYPE", "Bearer", secret.Param, testSecret)...))
	assert.Equal(t, "alice", e.User)
	assert.Equal(t, "Bearer", e.AuthType)
	assert.NotContains(t, e.Headers, "Anyhost-Secret")
	e = echoOf(t, do("/echo", append(done, "ANYHOST_USER", "alice", secret.Param, "previous-secret-still-accepted-0123456789")...))
	assert.Equal(t, "alice", e.User, "the previous secret during a rotation")
	// Without the word that the auth phases ran, they run here: a user
	// param is not believed.
	e = echoOf(t, do("/echo", "ANYHOST_USER", "alice", "ANYHOST_AUTH_TYPE", "Bearer", secret.Param, testSecret))
	assert.Empty(t, e.User, "ANYHOST_USER without ANYHOST_AUTH_DONE=1")

	for name, extra := range map[string][]string{
		"no secret":    {"ANYHOST_USER", "alice"},
		"wrong secret": {"ANYHOST_USER", "alice", secret.Param, testSecret + "x"},
		"as a header":  {"ANYHOST_USER", "alice", "HTTP_ANYHOST_SECRET", testSecret},
	} {
		assert.Equal(t, 403, do("/echo", extra...).status, name)
	}

	// /private has Basic auth: with ANYHOST_AUTH_DONE=1 the web server
	// checked it, so no credentials are needed here.
	r := do("/private", "ANYHOST_USER", "demo", "ANYHOST_AUTH_TYPE", "Basic", ParamAuthDone, "1",
		ParamLocation, "/private", secret.Param, testSecret)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "Hello, demo!", r.body)
	for name, extra := range map[string][]string{
		"no done param":   {"ANYHOST_USER", "demo"},
		"done not 1":      {"ANYHOST_USER", "demo", ParamAuthDone, "yes"},
		"client's header": {"ANYHOST_USER", "demo", "HTTP_ANYHOST_AUTH_DONE", "1"},
	} {
		r := do("/private", append(extra, secret.Param, testSecret)...)
		assert.Equal(t, 401, r.status, name)
	}
	for name, extra := range map[string][]string{
		"location missing":         {},
		"another location":         {ParamLocation, "/"},
		"a location of the path's": {ParamLocation, "/private/x"},
	} {
		r := do("/private/x", append(extra, "ANYHOST_USER", "demo", ParamAuthDone, "1", secret.Param, testSecret)...)
		assert.Equal(t, 500, r.status, name)
		assert.NotContains(t, r.body, "Hello")
	}
	r = do("/private", ParamAuthDone, "1", ParamAuthDone, "1", secret.Param, testSecret)
	assert.Equal(t, 500, r.status, "a duplicate is a config error")
	r = do("/private", secret.Param, testSecret, secret.Param, "other")
	assert.Equal(t, 500, r.status, "a duplicate is a config error")
}

func TestAuthorizer(t *testing.T) {
	addr := start(t, "tcp")
	tests := []struct {
		name      string
		extra     []string
		status    int
		user      string
		challenge string
	}{
		{"no credentials", nil, 401, "", `Basic realm="anyhost demo"`},
		{"basic-provider mode", []string{"REMOTE_USER", "demo", "REMOTE_PASSWD", "demo"}, 200, "demo", ""},
		{"wrong password", []string{"REMOTE_USER", "demo", "REMOTE_PASSWD", "nope"}, 401, "", `Basic realm="anyhost demo"`},
		{"REMOTE_USER alone", []string{"REMOTE_USER", "demo"}, 401, "", `Basic realm="anyhost demo"`},
		{"generic mode header", []string{"HTTP_AUTHORIZATION", "Basic " + base64.StdEncoding.EncodeToString([]byte("demo:demo"))}, 200, "demo", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// mod_authnz_fcgi: a new connection per check, no STDIN.
			r := dial(t, "tcp", addr).do(1, RoleAuthorizer, false, cgiParams("GET", "/private/x",
				append(tt.extra, ParamLocation, "/private")...), nil)
			assert.Equal(t, tt.status, r.status, r.body)
			if tt.user != "" {
				assert.Contains(t, string(r.stdout), "\r\nVariable-REMOTE_USER: "+tt.user+"\r\n", "exact case")
				assert.Contains(t, string(r.stdout), "\r\nVariable-AUTH_TYPE: Basic\r\n")
			} else {
				assert.NotContains(t, string(r.stdout), "Variable-")
			}
			if tt.challenge != "" {
				assert.Equal(t, []string{tt.challenge}, r.header.Values("WWW-Authenticate"))
			}
		})
	}
}

func TestMalformedStreamClosesOnlyThatConnection(t *testing.T) {
	addr := start(t, "tcp")
	good := dial(t, "tcp", addr)
	assert.Equal(t, "Hello!", good.do(1, RoleResponder, true, cgiParams("GET", "/hello"), nil).body)
	for name, junk := range map[string][]byte{
		"bad version":  {9, 1, 0, 1, 0, 0, 0, 0},
		"short begin":  {1, 1, 0, 1, 0, 2, 0, 0, 0, 1},
		"garbage":      []byte("GET / HTTP/1.1\r\n\r\n"),
		"stdin first":  append(appendRecord(nil, typeBeginRequest, 1, []byte{0, 1, 0, 0, 0, 0, 0, 0}), appendRecord(nil, typeStdin, 1, []byte("x"))...),
		"bad get vals": appendRecord(nil, typeGetValues, 0, []byte{0x80, 0, 0}),
	} {
		bad := dial(t, "tcp", addr)
		_, err := bad.nc.Write(junk)
		require.NoError(t, err, name)
		_, _, _, err = bad.read()
		assert.Error(t, err, name)
	}
	assert.Equal(t, "Hello!", good.do(2, RoleResponder, true, cgiParams("GET", "/hello"), nil).body)
	assert.Equal(t, "Hello!", dial(t, "tcp", addr).do(1, RoleResponder, false, cgiParams("GET", "/hello"), nil).body)
}

func TestOutStreamCoalesces(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		writes int // syscalls expected
	}{
		{"small response in one write", 100, 1},
		{"record boundary", maxContent, 2},
		{"large", 200 << 10, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent [][]byte
			s := newOutStream(3, func(b []byte) error { sent = append(sent, append([]byte(nil), b...)); return nil })
			n, err := s.Write(make([]byte, tt.size))
			require.NoError(t, err)
			require.Equal(t, tt.size, n)
			require.NoError(t, s.end(0, statusRequestComplete))
			assert.Equal(t, tt.writes, len(sent))
			var all []byte
			for _, b := range sent {
				all = append(all, b...)
			}
			total := 0
			for len(all) > 0 {
				require.GreaterOrEqual(t, len(all), headerLen)
				n := int(binary.BigEndian.Uint16(all[4:]))
				assert.Zero(t, (n+int(all[6]))%8, "padded to 8")
				if all[1] == typeStdout {
					total += n
				}
				all = all[headerLen+n+int(all[6]):]
			}
			assert.Equal(t, tt.size, total)
		})
	}
}

func TestDecodeParams(t *testing.T) {
	long := strings.Repeat("v", 200)
	tests := []struct {
		name string
		in   []byte
		want map[string]string
		err  error
	}{
		{"short and long lengths", appendPair(appendPair(nil, "A", "1"), "B", long), map[string]string{"A": "1", "B": long}, nil},
		{"truncated length", []byte{0x80, 0}, nil, ErrShortPair},
		{"length past end", []byte{5, 1, 'a'}, nil, ErrShortPair},
		{"huge 4-byte length", []byte{0xff, 0xff, 0xff, 0xff, 0}, nil, ErrShortPair},
		{"duplicate user", appendPair(appendPair(nil, paramUser, "a"), paramUser, "a"), nil, ErrDuplicateParam},
		{"duplicate auth type", appendPair(appendPair(nil, paramAuthType, "a"), paramAuthType, "b"), nil, ErrDuplicateParam},
		{"duplicate auth done", appendPair(appendPair(nil, ParamAuthDone, "1"), ParamAuthDone, "1"), nil, ErrDuplicateParam},
		{"duplicate differing", appendPair(appendPair(nil, "HTTPS", "on"), "HTTPS", ""), nil, ErrDuplicateParam},
		{"duplicate same", appendPair(appendPair(nil, "HTTPS", "on"), "HTTPS", "on"), map[string]string{"HTTPS": "on"}, nil},
		{"repeated header joined", appendPair(appendPair(nil, "HTTP_ACCEPT", "a"), "HTTP_ACCEPT", "b"), map[string]string{"HTTP_ACCEPT": "a, b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeParams(tt.in)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func BenchmarkResponderHello(b *testing.B) {
	addr := start(b, "tcp")
	c := dial(b, "tcp", addr)
	c.nc.SetDeadline(time.Time{})
	var req []byte
	req = appendRecord(req, typeBeginRequest, 1, []byte{0, 1, flagKeepConn, 0, 0, 0, 0, 0})
	var p []byte
	kv := cgiParams("GET", "/hello")
	for i := 0; i < len(kv); i += 2 {
		p = appendPair(p, kv[i], kv[i+1])
	}
	req = appendRecord(req, typeParams, 1, p)
	req = appendRecord(req, typeParams, 1, nil)
	req = appendRecord(req, typeStdin, 1, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.nc.Write(req); err != nil {
			b.Fatal(err)
		}
		for {
			typ, _, _, err := c.read()
			if err != nil {
				b.Fatal(err)
			}
			if typ == typeEndRequest {
				break
			}
		}
	}
}

// testLog logs to the test's output at warn level and above.
func testLog(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// Regression: FastCGI's Env() passed HTTP_AUTHORIZATION and HTTP_PROXY
// through while standalone's hid them. One rule on every host: neither
// reaches Env() (credentials as Apache keeps them from CGI; Proxy is
// httpoxy), while Authorization still reaches the request's headers.
func TestEnvHidesCredentialsAndProxy(t *testing.T) {
	var env map[string]string
	var auth string
	loc := &core.Location{Prefix: "/"}
	loc.Handlers[core.Content] = []core.Handler{core.HandlerFunc(func(r *core.Request) core.Status {
		env, auth = maps.Clone(r.Env()), r.Header.Get("Authorization")
		return core.OK
	})}
	site, err := core.NewSite([]*core.Location{loc})
	require.NoError(t, err)
	addr := serveWith(t, &Server{Site: site, Log: testLog(t)})
	r := dial(t, "tcp", addr).do(1, RoleResponder, false, cgiParams("GET", "/x",
		"HTTP_AUTHORIZATION", "Basic ZGVtbzpkZW1v", "HTTP_PROXY", "http://evil.test:8080",
		"HTTP_PROXY_AUTHORIZATION", "Basic eDp5", "HTTP_X_KEPT", "yes"), nil)
	require.Equal(t, 200, r.status)
	assert.Equal(t, "Basic ZGVtbzpkZW1v", auth)
	assert.NotContains(t, env, "HTTP_AUTHORIZATION")
	assert.NotContains(t, env, "HTTP_PROXY")
	assert.NotContains(t, env, "HTTP_PROXY_AUTHORIZATION")
	assert.Equal(t, "yes", env["HTTP_X_KEPT"])
}
