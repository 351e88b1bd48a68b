package nginx

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/anyhost/anyhost/builtin"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/handlers/demo"
	"github.com/anyhost/anyhost/internal/listen"
	"github.com/anyhost/anyhost/internal/metrics"
	"github.com/anyhost/anyhost/internal/secret"
	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

func testLog(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

func demoConfig(t testing.TB) *config.Site {
	t.Helper()
	cfg, err := config.Parse("demo", ".", demo.SiteTOML)
	require.NoError(t, err)
	return cfg
}

// stack is our Host on unix sockets plus a real nginx in front of it.
type stack struct {
	*testhost.Nginx
	host      *Host
	authConns atomic.Int64 // connections nginx opened to the auth endpoint
}

// startStack runs Host in-process on unix sockets that only root and
// www-data (nginx's workers) may use, and nginx with the full config from
// Conf, edited by edit when it is not nil.
func startStack(t *testing.T, edit func(string) string) *stack {
	t.Helper()
	cfg := demoConfig(t)
	return startSiteStack(t, cfg, cfg, edit)
}

// startSiteStack is startStack for any site: Host serves cfg, nginx's
// config is written from confCfg (the same site, or another one to play a
// web server configured for an older site file).
func startSiteStack(t *testing.T, cfg, confCfg *config.Site, edit func(string) string) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{cfg: cfg, confCfg: confCfg, edit: edit})
}

// stackOptions say how startStackWith sets the stack up.
type stackOptions struct {
	cfg, confCfg *config.Site
	edit         func(string) string
	// noSecret leaves out the web server's secret (the documented setup
	// has one: Host.Secrets and ConfOptions.SecretDir).
	noSecret bool
	// observer, if set, is the site's (serve's --metrics-listen).
	observer core.Observer
}

// writeSecretDir writes a secret directory as `anyhost secret new` does
// and returns it with the secret.
func writeSecretDir(t *testing.T) (dir, value string) {
	t.Helper()
	value, err := secret.Generate()
	require.NoError(t, err)
	dir, err = os.MkdirTemp("", "anyhost-nginx-secret-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, SecretFile), []byte(SecretSnippet(value)), 0o600))
	return dir, value
}

func startStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	cfg, confCfg, edit := o.cfg, o.confCfg, o.edit
	testhost.NginxBinary(t)
	site, err := cfg.Build()
	require.NoError(t, err)
	site.SetObserver(o.observer)

	dir, err := os.MkdirTemp("", "anyhost-nginx-sock-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	sock := listen.Options{Mode: 0o660, Group: "www-data"}
	if os.Geteuid() != 0 {
		sock = listen.Options{Mode: 0o666} // nginx's workers run as us
	}
	h := &Host{
		Site: site, Log: testLog(t),
		FastCGI: "unix:" + filepath.Join(dir, "fcgi.sock"),
		Auth:    "unix:" + filepath.Join(dir, "auth.sock"),
		Socket:  sock,
	}
	var secretDir string
	if !o.noSecret {
		var value string
		secretDir, value = writeSecretDir(t)
		h.Secrets = new(secret.Set)
		h.Secrets.Replace([]string{value})
	}
	s := &stack{host: h}
	h.AuthConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.authConns.Add(1)
		}
	}
	runHost(t, h)
	conf, err := Conf(ConfOptions{Site: confCfg, FastCGI: h.FastCGI, Auth: h.Auth, Full: true,
		Prefix: testhost.NginxPrefix, ServerListen: testhost.NginxListen, SecretDir: secretDir})
	require.NoError(t, err)
	if edit != nil {
		conf = edit(conf)
	}
	s.Nginx = testhost.StartNginx(t, conf)
	return s
}

func TestConfPassesNginxT(t *testing.T) {
	testhost.NginxBinary(t)
	o := ConfOptions{Site: demoConfig(t), FastCGI: "unix:/run/anyhost/fcgi.sock", Auth: "unix:/run/anyhost/auth.sock"}
	frag, err := Conf(o)
	require.NoError(t, err)
	assert.NotContains(t, frag, "REMOTE_USER")
	assert.NotContains(t, frag, "fastcgi_params")
	for _, id := range []string{"ANYHOST_USER", "ANYHOST_AUTH_TYPE", "ANYHOST_AUTH_DONE"} {
		assert.NotContains(t, frag, id, "the responder runs the auth phases: no identity crosses")
	}
	unbuffered := "fastcgi_pass anyhost_fastcgi;\n        fastcgi_keep_conn on;\n        fastcgi_request_buffering off;\n"
	assert.Contains(t, frag, "location ^~ /private/ {\n        "+unbuffered)
	assert.Contains(t, frag, "location = /private {\n        "+unbuffered)
	assert.Contains(t, frag, "location ^~ /hello/ {\n        fastcgi_pass anyhost_fastcgi;\n        fastcgi_keep_conn on;\n        fastcgi_param")
	assert.Equal(t, 1, strings.Count(frag, "auth_request /"), "auth_request only in the auth location's recipe comment:\n%s", frag)
	wrapped := "pid " + testhost.NginxPrefix + "/nginx.pid;\nevents {}\nhttp {\n" +
		"client_body_temp_path " + testhost.NginxPrefix + "/cb; proxy_temp_path " + testhost.NginxPrefix + "/px;\n" +
		"fastcgi_temp_path " + testhost.NginxPrefix + "/fc; uwsgi_temp_path " + testhost.NginxPrefix + "/uw;\n" +
		"scgi_temp_path " + testhost.NginxPrefix + "/sc; access_log off;\n" + frag + "}\n"
	out, err := testhost.NginxTest(t, wrapped)
	require.NoError(t, err, "fragment:\n%s\n%s", wrapped, out)

	o.Full, o.Prefix, o.ServerListen = true, testhost.NginxPrefix, testhost.NginxListen
	full, err := Conf(o)
	require.NoError(t, err)
	assert.Contains(t, full, "worker_processes 2;")
	if os.Geteuid() == 0 {
		assert.Contains(t, full, "user www-data;")
	}
	out, err = testhost.NginxTest(t, full)
	require.NoError(t, err, "full:\n%s\n%s", full, out)
}

func TestConfInheritsAuth(t *testing.T) {
	cfg, err := config.Parse("t.toml", ".", []byte(`
[[location]]
path = "/"
content = ["demo.hello"]
  [location.auth]
  realm = "r"
  providers = ["demo.users"]
  require = ["valid-user"]

[[location]]
path = "/open"
content = ["demo.echo"]
`))
	require.NoError(t, err)
	conf, err := Conf(ConfOptions{Site: cfg, FastCGI: "127.0.0.1:9000", Auth: "unix:/a.sock"})
	require.NoError(t, err)
	// /open inherits the auth of / (core.NewSite does the same).
	unbuffered := " {\n        fastcgi_pass anyhost_fastcgi;\n        fastcgi_keep_conn on;\n        fastcgi_request_buffering off;"
	assert.Contains(t, conf, "location ^~ /open/"+unbuffered)
	assert.Contains(t, conf, "location /"+unbuffered)

	bad, err := config.Parse("t.toml", ".", []byte("[[location]]\npath = \"/.anyhost-auth\"\ncontent = [\"demo.hello\"]\n"))
	require.NoError(t, err)
	_, err = Conf(ConfOptions{Site: bad, FastCGI: "127.0.0.1:9000", Auth: "unix:/a.sock"})
	assert.ErrorContains(t, err, "reserved")
}

func TestThroughNginx(t *testing.T) {
	s := startStack(t, nil)
	t.Run("forged identity", func(t *testing.T) { forged(t, s.URL) })
	t.Run("private", func(t *testing.T) {
		r := testhost.Do(t, "GET", s.URL+"/private", nil, testhost.BasicHeader("demo", "demo"))
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "Hello, demo!", string(r.Body))
		r = testhost.Do(t, "GET", s.URL+"/private/x", nil, testhost.BasicHeader("demo", "nope"))
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		assert.Equal(t, []string{`Basic realm="anyhost demo"`}, r.Header.Values("WWW-Authenticate"))
	})
	t.Run("bodies", func(t *testing.T) {
		for _, n := range []int{0, 1, 64 << 10, 10 << 20} {
			body := make([]byte, n)
			_, err := rand.Read(body)
			require.NoError(t, err)
			e := testhost.EchoOf(t, testhost.Do(t, "POST", s.URL+"/echo", bytes.NewReader(body), nil))
			sum := sha256.Sum256(body)
			assert.Equal(t, int64(n), e.BodyLength, "%d bytes", n)
			assert.Equal(t, hex.EncodeToString(sum[:]), e.BodySHA256, "%d bytes", n)
		}
		// One byte over the site's limit: nginx refuses it.
		r := testhost.Do(t, "POST", s.URL+"/echo", bytes.NewReader(make([]byte, 10<<20+1)), nil)
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	})
}

// Behind nginx the responder's requests are counted as standalone's are,
// by the location and the phase that decided them.
func TestMetricsThroughNginx(t *testing.T) {
	m := metrics.New(Adapter, "test")
	s := startStackWith(t, stackOptions{cfg: demoConfig(t), confCfg: demoConfig(t), observer: m})
	for range 2 {
		require.Equal(t, http.StatusOK, testhost.Do(t, "GET", s.URL+"/hello", nil, nil).Status)
	}
	require.Equal(t, http.StatusOK, testhost.Do(t, "GET", s.URL+"/private/", nil, testhost.BasicHeader("demo", "demo")).Status)
	require.Equal(t, http.StatusUnauthorized, testhost.Do(t, "GET", s.URL+"/private/", nil, testhost.BasicHeader("demo", "x")).Status)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range []string{"anyhost_requests_total", "anyhost_auth_answers_total"} {
		for _, mt := range fams[f].GetMetric() {
			var key []string
			for _, l := range mt.GetLabel() {
				key = append(key, l.GetValue())
			}
			got[strings.Join(key, " ")] = mt.GetCounter().GetValue()
		}
	}
	delete(got, "200 / content") // nginx's start-up probe
	assert.Equal(t, map[string]float64{
		"200 /hello content": 2, "200 /private content": 1, "401 /private authn": 1,
		"demo.users granted": 1, "demo.users denied": 1,
	}, got)
}

// TestDebianParamsStillNoUser adds Debian's fastcgi_params (REMOTE_USER
// $remote_user: the unverified Basic user) to every content location: the
// responder must still see no user.
func TestDebianParamsStillNoUser(t *testing.T) {
	testhost.NginxBinary(t)
	// Debian's nginx-common ships it; the test is about that file.
	require.FileExists(t, "/etc/nginx/fastcgi_params")
	s := startStack(t, func(conf string) string {
		return strings.ReplaceAll(conf, "fastcgi_keep_conn on;", "fastcgi_keep_conn on;\n        include /etc/nginx/fastcgi_params;")
	})
	require.Contains(t, s.confText(t), "include /etc/nginx/fastcgi_params;")
	forged(t, s.URL)
	r := testhost.Do(t, "GET", s.URL+"/private", nil, testhost.BasicHeader("demo", "demo"))
	assert.Equal(t, "Hello, demo!", string(r.Body))
}

func (s *stack) confText(t *testing.T) string {
	b, err := os.ReadFile(s.ConfFile)
	require.NoError(t, err)
	return string(b)
}

func forged(t *testing.T, url string) {
	t.Helper()
	h := testhost.BasicHeader("mallory", "x")
	h.Set("X-Remote-User", "admin")
	h.Set("Remote-User", "admin")
	h.Set("X-Anyhost-User", "admin")
	h.Set("Anyhost-User", "admin")
	e := testhost.EchoOf(t, testhost.Do(t, "GET", url+"/echo", nil, h))
	assert.Empty(t, e.User)
	assert.Empty(t, e.AuthType)
	e = testhost.EchoOf(t, testhost.Do(t, "GET", url+"/echo?x", nil, testhost.BasicHeader("demo", "demo")))
	assert.Empty(t, e.User, "no auth on /echo: even good credentials give no user")
}

// authSite is a site whose /s/CODE location's access phase returns a status.
func authSite(t *testing.T, hs map[string]core.Handler) *core.Site {
	var locs []*core.Location
	for prefix, h := range hs {
		l := &core.Location{Prefix: prefix}
		l.Handlers[core.Access] = []core.Handler{h}
		locs = append(locs, l)
	}
	open := &core.Location{Prefix: "/open"}
	open.Handlers[core.Content] = []core.Handler{core.HandlerFunc(func(*core.Request) core.Status { return core.OK })}
	site, err := core.NewSite(append(locs, open))
	require.NoError(t, err)
	return site
}

func subrequest(uri string, extra http.Header) *http.Request {
	req := httptest.NewRequest("GET", "/.anyhost-auth", nil)
	req.Header.Set("X-Original-Method", "POST")
	req.Header.Set("X-Original-URI", uri)
	req.Header.Set("X-Real-IP", "192.0.2.1")
	req.Header.Set("X-Real-Port", "4242")
	for k, v := range extra {
		req.Header[k] = v
	}
	return req
}

func TestAuthHandlerOutcomes(t *testing.T) {
	status := func(st core.Status) core.Handler {
		return core.HandlerFunc(func(r *core.Request) core.Status {
			r.ResponseHeader.Set("X-Leak", "1")
			r.WriteString("handler body")
			return st
		})
	}
	var seen *core.Request
	site := authSite(t, map[string]core.Handler{
		"/ok":       status(core.OK),
		"/declined": status(core.Declined),
		"/done":     status(core.Done),
		"/302":      status(http.StatusFound),
		"/200":      status(http.StatusOK),
		"/401": core.HandlerFunc(func(r *core.Request) core.Status {
			r.ErrHeader().Add("WWW-Authenticate", `Basic realm="a"`)
			r.ErrHeader().Add("WWW-Authenticate", `Bearer realm="b"`)
			return http.StatusUnauthorized
		}),
		"/403":   status(http.StatusForbidden),
		"/404":   status(http.StatusNotFound),
		"/500":   status(http.StatusInternalServerError),
		"/panic": core.HandlerFunc(func(*core.Request) core.Status { panic("boom") }),
		"/user": core.HandlerFunc(func(r *core.Request) core.Status {
			seen = r
			r.User, r.AuthType = "alice", "Basic"
			return core.OK
		}),
	})
	h := &AuthHandler{Site: site, Log: testLog(t)}
	tests := []struct {
		uri  string
		code int
	}{
		{"/ok", 204}, {"/declined", 204}, {"/open/x", 204}, {"/nowhere", 204},
		{"/done", 500}, {"/302", 500}, {"/200", 500}, {"/401", 401}, {"/403", 403},
		{"/404", 500}, {"/500", 500}, {"/panic", 500},
		{"/open/../403", 403}, {"/open/%2e%2e/403?q", 403}, {"/x/..%2F403", 403},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, subrequest(tt.uri, nil))
			assert.Equal(t, tt.code, w.Code)
			assert.Empty(t, w.Body.String(), "no body: nginx must be able to keep the connection")
			assert.Empty(t, w.Header().Get("X-Leak"))
			assert.Empty(t, w.Header().Get(HeaderUser))
			if tt.code == 401 {
				assert.Equal(t, []string{`Basic realm="a", Bearer realm="b"`}, w.Header().Values("WWW-Authenticate"))
			}
		})
	}

	w := httptest.NewRecorder()
	h.ServeHTTP(w, subrequest("/user/x?y=1", http.Header{"X-Client": {"c"}, "Host": {"ignored"}}))
	assert.Equal(t, 204, w.Code)
	assert.Equal(t, "alice", w.Header().Get(HeaderUser))
	assert.Equal(t, "Basic", w.Header().Get(HeaderAuthType))
	require.NotNil(t, seen)
	assert.Equal(t, "POST", seen.Method)
	assert.Equal(t, "/user/x?y=1", seen.URI)
	assert.Equal(t, "/user/x", seen.Path)
	assert.Equal(t, "y=1", seen.RawQuery)
	assert.Equal(t, "192.0.2.1:4242", seen.RemoteAddr)
	assert.Equal(t, Adapter, seen.Adapter)
	assert.Equal(t, "c", seen.Header.Get("X-Client"))
	assert.Empty(t, seen.Header.Get("X-Original-URI"), "nginx's own headers are not the client's")
	assert.Empty(t, seen.Header.Get("X-Real-IP"))

	for name, req := range map[string]*http.Request{
		"no method": func() *http.Request { r := subrequest("/ok", nil); r.Header.Del("X-Original-Method"); return r }(),
		"no uri":    func() *http.Request { r := subrequest("/ok", nil); r.Header.Del("X-Original-URI"); return r }(),
		"no ip":     func() *http.Request { r := subrequest("/ok", nil); r.Header.Del("X-Real-IP"); return r }(),
		"two uris":  subrequest("/ok", http.Header{"X-Original-Uri": {"/ok", "/403"}}),
		"bad uri":   subrequest("/ok%zz", nil),
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		assert.Equal(t, 500, w.Code, name)
	}
}

// checksSite is a site whose /private location counts password checks:
// demo.users appends one line per check to the returned file. With auth
// false the same locations come without [location.auth].
func checksSite(t *testing.T, dir string, auth bool) (*config.Site, string) {
	t.Helper()
	file := filepath.Join(dir, "checks")
	toml := `
[[location]]
path = "/private"
content = ["demo.private"]

[[location]]
path = "/echo"
content = ["demo.echo"]
`
	if auth {
		toml = strings.Replace(toml, `content = ["demo.private"]`, `content = ["demo.private"]
  [location.auth]
  realm = "checks"
  providers = [{name = "demo.users", options = {record = "`+file+`"}}]
  require = ["valid-user"]`, 1)
	}
	cfg, err := config.Parse(filepath.Join(dir, "site.toml"), dir, []byte(toml))
	require.NoError(t, err)
	return cfg, file
}

// checkLines returns the lines demo.users recorded, one per password check.
func checkLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

// Regression: the responder re-ran the auth phases after auth_request had,
// so bcrypt ran twice per request. Now the responder alone checks, once,
// and a client's headers claiming the check ran change nothing.
func TestPasswordCheckedOnce(t *testing.T) {
	dir := t.TempDir()
	cfg, file := checksSite(t, dir, true)
	s := startSiteStack(t, cfg, cfg, nil)
	forgedDone := http.Header{"Anyhost-Auth-Done": {"1"}, "X-Anyhost-User": {"admin"}}
	for i := range 5 {
		h := testhost.BasicHeader("demo", "demo")
		if i%2 == 1 {
			for k, v := range forgedDone {
				h[k] = v
			}
		}
		r := testhost.Do(t, "GET", s.URL+"/private/x", nil, h)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "Hello, demo!", string(r.Body))
	}
	assert.Equal(t, []string{`"demo"_granted`, `"demo"_granted`, `"demo"_granted`, `"demo"_granted`, `"demo"_granted`},
		checkLines(t, file), "one check per request")
	r := testhost.Do(t, "GET", s.URL+"/private", nil, testhost.BasicHeader("demo", "wrong"))
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	r = testhost.Do(t, "GET", s.URL+"/private", nil, forgedDone)
	assert.Equal(t, http.StatusUnauthorized, r.Status, "a client's header does not skip the check")
	assert.Len(t, checkLines(t, file), 6, "no credentials, no check")
}

// nginx configured for an older site file that had no auth on /private:
// the responder checks the password all the same, once, and a client's
// forged headers change nothing.
func TestUnwiredAuthStillChecked(t *testing.T) {
	dir := t.TempDir()
	cfg, file := checksSite(t, dir, true)
	old, _ := checksSite(t, dir, false)
	s := startSiteStack(t, cfg, old, nil)
	require.NotContains(t, s.confText(t), "fastcgi_request_buffering off")
	forged := http.Header{"Anyhost-Auth-Done": {"1"}, "Anyhost-User": {"demo"}, "X-Anyhost-User": {"demo"}}
	r := testhost.Do(t, "GET", s.URL+"/private", nil, forged)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, `Basic realm="checks"`, r.Header.Get("WWW-Authenticate"))
	h := testhost.BasicHeader("demo", "demo")
	for k, v := range forged {
		h[k] = v
	}
	r = testhost.Do(t, "GET", s.URL+"/private", nil, h)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello, demo!", string(r.Body))
	assert.Equal(t, []string{`"demo"_granted`}, checkLines(t, file))
}
