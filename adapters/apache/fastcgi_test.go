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

// fcgiHost is Apache in daemon mode: `anyhost serve --adapter fastcgi` on
// its own, Apache in front with mod_proxy_fcgi and mod_authnz_fcgi.
type fcgiHost struct {
	Go       *testhost.Process
	GoAddr   string
	Apache   *testhost.Process
	Root     string
	Addr     string
	URL      string
	ConfFile string
}

func (h *fcgiHost) Target() testhost.Target {
	return testhost.Target{URL: h.URL, Addr: h.Addr, Adapter: "fastcgi"}
}

func (h *fcgiHost) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(h.Root, "error.log"))
	return string(b)
}

// startFastCGIApache starts the Go FastCGI server and an httpd whose whole
// configuration is `anyhost apache conf --mode fastcgi --full`.
func startFastCGIApache(t *testing.T) *fcgiHost {
	t.Helper()
	apache := testhost.ApacheBinary(t)
	bin := testhost.AnyhostBinary(t)
	h := &fcgiHost{Root: testhost.NewApacheRoot(t)}
	h.GoAddr = fmt.Sprintf("127.0.0.1:%d", testhost.FreePort(t))
	h.Go = testhost.Start(t, testhost.Spec{
		Args:  []string{bin, "serve", "--adapter", "fastcgi", "--listen", h.GoAddr, "--log-format", "json"},
		Ready: testhost.DialReady("tcp", h.GoAddr),
	})
	h.Addr = fmt.Sprintf("127.0.0.1:%d", testhost.FreePort(t))
	h.URL = "http://" + h.Addr
	h.ConfFile = filepath.Join(h.Root, "httpd.conf")
	args := []string{"apache", "conf", "--mode", "fastcgi", "--fastcgi", h.GoAddr, "--full", "--root", h.Root, "--listen", h.Addr}
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "anyhost %s\n%s", strings.Join(args, " "), out)
	require.NoError(t, os.WriteFile(h.ConfFile, out, 0o644))
	h.Apache = testhost.Start(t, testhost.Spec{
		Args:    []string{apache, "-f", h.ConfFile, "-DFOREGROUND"},
		Dir:     h.Root,
		Logs:    []string{filepath.Join(h.Root, "error.log"), h.ConfFile},
		PIDFile: filepath.Join(h.Root, "httpd.pid"),
		Ready:   testhost.HTTPReady(h.URL + "/"),
		Timeout: 30 * time.Second,
	})
	return h
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
	assert.Contains(t, conf, "AuthnzFcgiDefineProvider authn anyhost_fcgi fcgi://127.0.0.1:9000/")
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
	frag := filepath.Join(root, "anyhost.conf")
	require.NoError(t, os.WriteFile(frag, out, 0o644))
	main := fmt.Sprintf(`ServerRoot %q
Listen 127.0.0.1:1
PidFile %q
ErrorLog %q
DefaultRuntimeDir %q
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
User www-data
Group www-data
Include %q
`, root, filepath.Join(root, "httpd.pid"), filepath.Join(root, "error.log"), root, frag)
	file := filepath.Join(root, "httpd.conf")
	require.NoError(t, os.WriteFile(file, []byte(main), 0o644))
	res, err := exec.Command(testhost.ApacheBinary(t), "-t", "-f", file).CombinedOutput()
	require.NoError(t, err, "%s", res)
	assert.Contains(t, string(res), "Syntax OK")
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
