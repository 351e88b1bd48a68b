package cgi_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/adapters/cgi"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
	_ "github.com/anyhost/anyhost/handlers/demo"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func serve(t *testing.T, site *core.Site, env map[string]string, stdin string) (answer, string) {
	t.Helper()
	var out, logs bytes.Buffer
	require.NoError(t, cgi.Serve(site, env, strings.NewReader(stdin), &out, zerolog.New(&logs)))
	tp := textproto.NewReader(bufio.NewReader(&out))
	h, err := tp.ReadMIMEHeader()
	require.NoError(t, err, "%q", out.String())
	code, _, _ := strings.Cut(h.Get("Status"), " ")
	n, err := strconv.Atoi(code)
	require.NoError(t, err)
	rest, _ := io.ReadAll(tp.R)
	return answer{n, http.Header(h), string(rest)}, logs.String()
}

func siteWith(t *testing.T, h core.HandlerFunc) *core.Site {
	loc := &core.Location{Prefix: "/"}
	loc.Handlers[core.Content] = []core.Handler{h}
	s, err := core.NewSite([]*core.Location{loc})
	require.NoError(t, err)
	s.Limits.MaxBody = 100
	return s
}

func env(kv ...string) map[string]string {
	e := map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/x",
		"SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "h.test", "SERVER_PORT": "80", "REMOTE_ADDR": "192.0.2.1"}
	for i := 0; i+1 < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
	}
	return e
}

func TestServe(t *testing.T) {
	echo := siteWith(t, func(r *core.Request) core.Status {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return core.StatusForError(err)
		}
		r.ResponseHeader.Set("Content-Type", "text/plain")
		r.WriteString(r.Method + " " + r.Path + " user=" + r.User + " body=" + string(b))
		return core.OK
	})
	t.Run("request and body", func(t *testing.T) {
		a, _ := serve(t, echo, env("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "5"), "hello and more")
		assert.Equal(t, 200, a.status)
		assert.Equal(t, "POST /x user= body=hello", a.body, "CONTENT_LENGTH bounds the body")
	})
	t.Run("the server's REMOTE_USER is believed only where its config says so", func(t *testing.T) {
		a, _ := serve(t, echo, env("REMOTE_USER", "ann", "AUTH_TYPE", "Basic", cgi.TrustRemoteUser, "1"), "")
		assert.Equal(t, "GET /x user=ann body=", a.body)
		// Regression (security review): nginx + fcgiwrap sends the
		// client's unverified Basic user as REMOTE_USER.
		a, _ = serve(t, echo, env("REMOTE_USER", "admin", "AUTH_TYPE", "Basic"), "")
		assert.Equal(t, "GET /x user= body=", a.body)
	})
	t.Run("the server's user meets the site's require rules", func(t *testing.T) {
		cfg, err := config.Parse("site.toml", ".", []byte(`[[location]]
path = "/"
content = ["demo.echo"]
  [location.auth]
  realm = "r"
  providers = ["demo.users"]
  require = ["user ann"]
`))
		require.NoError(t, err)
		site, err := cfg.Build()
		require.NoError(t, err)
		a, _ := serve(t, site, env("REMOTE_USER", "ann", "AUTH_TYPE", "Basic", cgi.TrustRemoteUser, "1"), "")
		assert.Equal(t, 200, a.status, "the web server authenticated ann: no password asked again")
		assert.Contains(t, a.body, `"user": "ann"`)
		a, _ = serve(t, site, env("REMOTE_USER", "bob", "AUTH_TYPE", "Basic", cgi.TrustRemoteUser, "1"), "")
		assert.Equal(t, 403, a.status, "require still decides")
		a, _ = serve(t, site, env(), "")
		assert.Equal(t, 401, a.status, "no user from the server: the site's own Basic auth")
	})
	t.Run("declared body past max_body", func(t *testing.T) {
		a, _ := serve(t, echo, env("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "1000"), "")
		assert.Equal(t, 413, a.status)
	})
	t.Run("undeclared body past max_body", func(t *testing.T) {
		a, _ := serve(t, echo, env("REQUEST_METHOD", "POST"), strings.Repeat("x", 1000))
		assert.Equal(t, 413, a.status)
	})
	t.Run("short body", func(t *testing.T) {
		a, _ := serve(t, echo, env("REQUEST_METHOD", "POST", "CONTENT_LENGTH", "50"), "short")
		assert.Equal(t, 400, a.status)
	})
	t.Run("no REQUEST_URI", func(t *testing.T) {
		e := env()
		delete(e, "REQUEST_URI")
		a, logs := serve(t, echo, e, "")
		assert.Equal(t, 500, a.status)
		assert.Contains(t, logs, "REQUEST_URI missing")
	})
	t.Run("bad target", func(t *testing.T) {
		a, _ := serve(t, echo, env("REQUEST_URI", "/%zz"), "")
		assert.Equal(t, 400, a.status)
	})
	t.Run("a panic after writing is still a whole 500", func(t *testing.T) {
		s := siteWith(t, func(r *core.Request) core.Status {
			r.ResponseHeader.Set("X-Half", "1")
			r.WriteString("half a page")
			panic("boom")
		})
		a, logs := serve(t, s, env(), "")
		assert.Equal(t, 500, a.status)
		assert.Equal(t, "500 Internal Server Error\n", a.body)
		assert.Empty(t, a.header.Get("X-Half"))
		assert.Contains(t, logs, `"stack"`)
	})
}
