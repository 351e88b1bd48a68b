package apache_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

// fcgiHost is Apache in daemon mode (testhost.StartApacheDaemon).
type fcgiHost = testhost.ApacheDaemon

// fcgiOptions say how startFastCGIApacheWith sets daemon mode up.
type fcgiOptions = testhost.ApacheDaemonOptions

func startFastCGIApache(t *testing.T) *fcgiHost {
	t.Helper()
	return testhost.StartApacheDaemon(t, fcgiOptions{})
}

func startFastCGIApacheSite(t *testing.T, goSite, confSite string) *fcgiHost {
	t.Helper()
	return testhost.StartApacheDaemon(t, fcgiOptions{GoSite: goSite, ConfSite: confSite})
}

func startFastCGIApacheWith(t *testing.T, o fcgiOptions) *fcgiHost {
	t.Helper()
	return testhost.StartApacheDaemon(t, o)
}

func TestFastCGIConfNeedsAddress(t *testing.T) {
	bin := testhost.AnyhostBinary(t)
	for _, args := range [][]string{
		{"apache", "conf", "--mode", "fastcgi"},
		{"apache", "conf", "--mode", "fastcgi", "--fastcgi", "unix:/tmp/x.sock"},
		{"apache", "conf", "--mode", "fastcgi", "--fastcgi", "127.0.0.1:99999"},
		{"apache", "conf", "--mode", "cgi", "--fastcgi", "127.0.0.1:9000"},
		{"apache", "conf"}, // inprocess still needs --lib-dir
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		assert.Error(t, err, "anyhost %s\n%s", strings.Join(args, " "), out)
	}
	out, err := exec.Command(bin, "apache", "conf", "--mode", "fastcgi", "--fastcgi", "127.0.0.1:9000").CombinedOutput()
	require.NoError(t, err, "%s", out)
	conf := string(out)
	assert.NotContains(t, conf, "anyhost_module", "daemon mode loads no Go library")
	assert.Contains(t, conf, "AuthnzFcgiDefineProvider authnz anyhost_fcgi fcgi://127.0.0.1:9000/")
	assert.Contains(t, conf, "<Proxy \"fcgi://127.0.0.1:9000/\">\n    ProxySet enablereuse=on\n</Proxy>")
	assert.Contains(t, conf, `ProxyPass "fcgi://127.0.0.1:9000/"`)
}

// The fragment form loads nothing twice and passes `apache2 -t` included
// in a minimal httpd.conf.
func TestFastCGIConfFragmentParses(t *testing.T) {
	bin := testhost.AnyhostBinary(t)
	root := testhost.NewApacheRoot(t)
	out, err := exec.Command(bin, "apache", "conf", "--mode", "fastcgi", "--fastcgi", "127.0.0.1:9000").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assertFragmentParses(t, root, out, "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so")
}

// assertFragmentParses checks that `apache2 -t` takes frag Included in a
// minimal httpd.conf (with extra lines before the Include).
func assertFragmentParses(t *testing.T, root string, frag []byte, extra string) {
	t.Helper()
	file := filepath.Join(root, "anyhost.conf")
	require.NoError(t, os.WriteFile(file, frag, 0o644))
	main := fmt.Sprintf(`ServerRoot %q
Listen 127.0.0.1:1
PidFile %q
ErrorLog %q
DefaultRuntimeDir %q
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
%s
User www-data
Group www-data
Include %q
`, root, filepath.Join(root, "httpd.pid"), filepath.Join(root, "error.log"), root, extra, file)
	conf := filepath.Join(root, "httpd.conf")
	require.NoError(t, os.WriteFile(conf, []byte(main), 0o644))
	res, err := exec.Command(testhost.ApacheBinary(t), "-t", "-f", conf).CombinedOutput()
	require.NoError(t, err, "%s", res)
	assert.Contains(t, string(res), "Syntax OK")
}

// The documented step: `anyhost secret new`, then the fragment with
// --secret-dir passes `apache2 -t` included in a minimal httpd.conf, and
// carries the secret only by reference (an Include of the 0600 file).
func TestFastCGIConfWithSecretParses(t *testing.T) {
	bin := testhost.AnyhostBinary(t)
	root := testhost.NewApacheRoot(t)
	sdir := filepath.Join(root, "secret")
	out, err := exec.Command(bin, "secret", "new", "--dir", sdir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	value, err := os.ReadFile(filepath.Join(sdir, "secret"))
	require.NoError(t, err)
	out, err = exec.Command(bin, "apache", "conf", "--mode", "fastcgi", "--fastcgi", "127.0.0.1:9000", "--secret-dir", sdir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	conf := string(out)
	assert.Contains(t, conf, `Include "`+filepath.Join(sdir, "apache-secret.conf")+`"`)
	assert.NotContains(t, conf, strings.TrimSpace(string(value)), "the value stays in the 0600 file")
	assert.Contains(t, conf, "--secret file:"+filepath.Join(sdir, "secret"), "the header says how to run serve")
	assert.Contains(t, conf, "LimitRequestLine 8190")
	assertFragmentParses(t, root, out, "")
}

func TestFastCGIConformance(t *testing.T) {
	h := startFastCGIApache(t)
	testhost.RunConformance(t, h.Target())
	assert.NotContains(t, h.ErrorLog(), "exit signal")
	assert.NotContains(t, h.ErrorLog(), "AH01146", "every location shares the one worker and its enablereuse")
}

// No client-sent identity reaches the responder: not Basic credentials
// Apache did not check (no auth on /echo), not headers. Anyhost-User
// arrives as the header it is (HTTP_ANYHOST_USER), never as ANYHOST_USER.
func TestFastCGIForgedIdentity(t *testing.T) {
	h := startFastCGIApache(t)
	for _, path := range []string{"/echo", "/echo/sub?x=1"} {
		hd := testhost.BasicHeader("mallory", "x")
		hd.Set("X-Remote-User", "admin")
		hd.Set("Remote-User", "admin")
		hd.Set("Anyhost-User", "admin")
		hd.Set("Anyhost-Auth-Type", "Basic")
		e := testhost.EchoOf(t, testhost.Do(t, "GET", h.URL+path, nil, hd))
		assert.Empty(t, e.User, path)
		assert.Empty(t, e.AuthType, path)
		assert.Equal(t, []string{"admin"}, e.Headers.Values("Anyhost-User"), "it stays a plain request header")
		assert.Equal(t, "fastcgi", e.Adapter)
	}
	// The same headers on an authenticated request do not change the user.
	hd := testhost.BasicHeader("demo", "demo")
	hd.Set("Anyhost-User", "admin")
	hd.Set("X-Remote-User", "admin")
	r := testhost.Do(t, "GET", h.URL+"/private/", nil, hd)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello, demo!", string(r.Body))
}

// /private is authenticated by mod_authnz_fcgi asking our authorizer; the
// user reaches the responder as ANYHOST_USER and Apache logs it.
func TestFastCGIAuth(t *testing.T) {
	h := startFastCGIApache(t)
	r := testhost.Do(t, "GET", h.URL+"/private/", nil, testhost.BasicHeader("demo", "demo"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello, demo!", string(r.Body))
	for _, c := range [][2]string{{"demo", "wrong"}, {"nobody", "demo"}, {"demo", ""}} {
		r := testhost.Do(t, "GET", h.URL+"/private/", nil, testhost.BasicHeader(c[0], c[1]))
		assert.Equal(t, http.StatusUnauthorized, r.Status, "%s:%s", c[0], c[1])
		assert.Equal(t, `Basic realm="anyhost demo"`, r.Header.Get("WWW-Authenticate"))
		assert.NotContains(t, string(r.Body), "Hello")
	}
	r = testhost.Do(t, "GET", h.URL+"/private/", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(h.Root, "access.log"))
		return strings.Contains(string(b), " demo [")
	}, 5*time.Second, 20*time.Millisecond, "Apache knows the user the authorizer granted")
}

func TestFastCGIBodies(t *testing.T) {
	h := startFastCGIApache(t)
	big := make([]byte, 10<<20)
	_, err := rand.Read(big)
	require.NoError(t, err)
	for _, body := range [][]byte{{}, {'x'}, big[:64<<10], big} {
		e := testhost.EchoOf(t, testhost.Do(t, "POST", h.URL+"/echo", bytes.NewReader(body),
			http.Header{"Content-Type": {"application/octet-stream"}}))
		sum := sha256.Sum256(body)
		assert.Equal(t, int64(len(body)), e.BodyLength)
		assert.Equal(t, hex.EncodeToString(sum[:]), e.BodySHA256, "%d bytes", len(body))
	}
	// One byte over the site's limit (default 10 MiB) is refused.
	over := append(big, 'x')
	r := testhost.Do(t, "POST", h.URL+"/echo", bytes.NewReader(over), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
}

// checksSite writes a site file whose /private location counts password
// checks (demo.users appends one line per check to the returned file); with
// auth false /private has no [location.auth].
func checksSite(t *testing.T, dir, name string, auth bool) (site, checks string) {
	t.Helper()
	checks = filepath.Join(dir, "checks")
	toml := "[[location]]\npath = \"/private\"\ncontent = [\"demo.private\"]\n"
	if auth {
		toml += fmt.Sprintf("  [location.auth]\n  realm = \"checks\"\n"+
			"  providers = [{name = \"demo.users\", options = {record = %q}}]\n  require = [\"valid-user\"]\n", checks)
	}
	toml += "\n[[location]]\npath = \"/private/open\"\ncontent = [\"demo.echo\"]\n"
	site = filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(site, []byte(toml), 0o644))
	return site, checks
}

func checkCount(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		assert.Equal(t, `"demo" granted`, line)
	}
	return strings.Count(string(b), "\n")
}

// Regression: mod_authnz_fcgi's check (our Authorizer role) was followed by
// a second one in the responder, which needed the credentials. Now the
// conf sends ANYHOST_AUTH_DONE=1 with the user where the authorizer runs,
// and the password is verified once per request, also in a nested location
// that inherits the auth (/private/open).
func TestFastCGIPasswordCheckedOnce(t *testing.T) {
	dir := testhost.NewApacheRoot(t)
	site, checks := checksSite(t, dir, "site.toml", true)
	h := startFastCGIApacheSite(t, site, site)
	conf, err := os.ReadFile(h.ConfFile)
	require.NoError(t, err)
	assert.Contains(t, string(conf), `ProxyFCGISetEnvIf "-n %{reqenv:ANYHOST_AUTH_DONE}" !HTTP_AUTHORIZATION`, "the responder needs no credentials where the authorizer granted")
	forged := testhost.BasicHeader("demo", "demo")
	forged.Set("Anyhost-Auth-Done", "1")
	for i := range 4 {
		r := testhost.Do(t, "GET", h.URL+"/private/", nil, testhost.BasicHeader("demo", "demo"))
		require.Equal(t, http.StatusOK, r.Status, "request %d", i)
		assert.Equal(t, "Hello, demo!", string(r.Body))
	}
	e := testhost.EchoOf(t, testhost.Do(t, "GET", h.URL+"/private/open", nil, forged))
	assert.Equal(t, "demo", e.User)
	assert.Equal(t, "Basic", e.AuthType)
	assert.Empty(t, e.Headers.Get("Authorization"), "credentials stay in Apache")
	assert.Equal(t, 5, checkCount(t, checks), "one check per request")

	r := testhost.Do(t, "GET", h.URL+"/private/", nil, http.Header{"Anyhost-Auth-Done": {"1"}, "Anyhost-User": {"demo"}})
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, 5, checkCount(t, checks), "no credentials, no check")
}

// Apache configured for an older site file without auth on /private: no
// authorizer and no ANYHOST_AUTH_DONE, so the responder runs the auth phases
// itself, once, with the credentials Apache passes (CGIPassAuth), and a
// client's forged headers change nothing.
func TestFastCGIUnwiredAuthStillChecked(t *testing.T) {
	dir := testhost.NewApacheRoot(t)
	site, checks := checksSite(t, dir, "site.toml", true)
	old, _ := checksSite(t, dir, "old.toml", false)
	h := startFastCGIApacheSite(t, site, old)
	forged := http.Header{"Anyhost-Auth-Done": {"1"}, "Anyhost-User": {"demo"}}
	for _, path := range []string{"/private", "/private/open"} {
		r := testhost.Do(t, "GET", h.URL+path, nil, forged)
		assert.Equal(t, http.StatusUnauthorized, r.Status, path)
		assert.NotContains(t, string(r.Body), "demo", path)
	}
	assert.Equal(t, 0, checkCount(t, checks))
	hd := testhost.BasicHeader("demo", "demo")
	for k, v := range forged {
		hd[k] = v
	}
	r := testhost.Do(t, "GET", h.URL+"/private", nil, hd)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello, demo!", string(r.Body))
	assert.Equal(t, 1, checkCount(t, checks))
}
