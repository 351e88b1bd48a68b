package apache_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/handlers/demo"
	"github.com/anyhost/anyhost/internal/testhost"
)

// adminSite is the site of the security regressions: "/" needs any user,
// "/admin" user admin; both serve a net/http ServeMux (demo.mux) that has
// its own /admin/ page, as a mounted net/http application would.
const adminSite = `
[[location]]
path = "/"
content = ["demo.mux"]
  [location.auth]
  realm = "r"
  providers = ["demo.users"]
  require = ["valid-user"]

[[location]]
path = "/admin"
content = ["demo.mux"]
  [location.auth]
  realm = "r"
  providers = ["demo.users"]
  require = ["user admin"]
`

func rawGet(target, authorization string) string {
	req := "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	if authorization != "" {
		req += "Authorization: " + authorization + "\r\n"
	}
	return req + "\r\n"
}

var demoBasic = "Basic " + base64.StdEncoding.EncodeToString([]byte("demo:demo"))

// Regression (security): an absolute-form target reached the FastCGI side as
// REQUEST_URI=http://127.0.0.1/admin/, which the CGI translation made the
// path /http:/127.0.0.1/admin/: the authorizer checked "/" (valid-user)
// while the net/http view routed /admin/, and user demo read the admin page.
func TestDaemonAbsoluteFormTargetCannotReachAdmin(t *testing.T) {
	site := writeSite(t, adminSite)
	h := startFastCGIApacheSite(t, site, site)
	r := testhost.Raw(t, h.Addr, rawGet("/admin/", demoBasic))
	require.Equal(t, http.StatusForbidden, r.Status, "origin-form: demo is not admin; body %s", r.Body)
	for _, target := range []string{"http://127.0.0.1/admin/", "http://127.0.0.1/admin/x", "HTTP://localhost/admin/",
		"https://127.0.0.1/admin/", "http://127.0.0.1:1/x/../admin/", "http://other.example/admin/?a=1"} {
		r := testhost.Raw(t, h.Addr, rawGet(target, demoBasic))
		assert.Contains(t, []int{http.StatusForbidden, http.StatusBadRequest}, r.Status, "%s: body %s", target, r.Body)
		assert.NotContains(t, string(r.Body), "admin area", target)
	}
	// The same form on a location demo may read: what origin-form gives.
	r = testhost.Raw(t, h.Addr, rawGet("http://127.0.0.1/x", demoBasic))
	assert.Equal(t, http.StatusOK, r.Status, "body %s", r.Body)
	assert.Equal(t, "mux root: /x", string(r.Body))
}

// Regression (security): a query over ~16 KiB made mod_authnz_fcgi drop
// REQUEST_URI (AH02499), the authorizer checked "/" and granted demo, and
// the responder re-derived /admin/ from SCRIPT_NAME+PATH_INFO and believed
// ANYHOST_AUTH_DONE: 200 for demo on an admin-only location.
func TestDaemonLongQueryCannotReachAdmin(t *testing.T) {
	site := writeSite(t, adminSite)
	h := startFastCGIApacheSite(t, site, site)
	for _, n := range []int{7 << 10, 17 << 10, 40 << 10} {
		target := "/admin/?q=" + strings.Repeat("a", n)
		r := testhost.Raw(t, h.Addr, rawGet(target, demoBasic))
		assert.Contains(t, []int{http.StatusForbidden, http.StatusRequestURITooLong, http.StatusBadRequest}, r.Status,
			"%d-byte query: body %.200s", n, r.Body)
		assert.NotContains(t, string(r.Body), "admin area")
	}
	// The Go side holds on its own where an admin raised Apache's limit:
	// without REQUEST_URI (dropped) the authorizer refuses, never checks "/".
	raised := startFastCGIApacheWith(t, fcgiOptions{GoSite: site, ConfSite: site,
		Extra: "LimitRequestLine 65536\nLimitRequestFieldSize 65536\n"})
	r := testhost.Raw(t, raised.Addr, rawGet("/admin/?q="+strings.Repeat("a", 17<<10), demoBasic))
	assert.Equal(t, http.StatusInternalServerError, r.Status, "body %.200s", r.Body)
	assert.NotContains(t, string(r.Body), "admin area")
	assert.Eventually(t, func() bool { return strings.Contains(raised.Go.LogText(), "REQUEST_URI missing") },
		10*time.Second, 10*time.Millisecond, "serve writes its log in batches")

	// A long Cookie, also dropped by the FastCGI modules past 16 KiB, is
	// refused by Apache's own header limit before it gets there.
	req := "GET /admin/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: " + demoBasic +
		"\r\nCookie: c=" + strings.Repeat("b", 17<<10) + "\r\n\r\n"
	r = testhost.Raw(t, h.Addr, req)
	assert.Contains(t, []int{http.StatusForbidden, http.StatusBadRequest}, r.Status, "body %.200s", r.Body)
	assert.NotContains(t, string(r.Body), "admin area")
}

// forgedParams are what a local attacker sends straight to the FastCGI
// port: the identity params the generated config sets, for a location
// that requires a user.
func forgedParams(extra ...string) []string {
	return append([]string{"REQUEST_METHOD", "GET", "REQUEST_URI", "/private/", "SERVER_PROTOCOL", "HTTP/1.1",
		"HTTP_HOST", "127.0.0.1", "REMOTE_ADDR", "127.0.0.1", "REMOTE_PORT", "4000",
		"ANYHOST_USER", "admin", "ANYHOST_AUTH_TYPE", "Basic", "ANYHOST_AUTH_DONE", "1", "ANYHOST_LOCATION", "/private"}, extra...)
}

// Regression (security): any local process reaching the daemon-mode
// FastCGI port (TCP: mod_authnz_fcgi speaks nothing else) was believed when
// it claimed ANYHOST_USER=admin with ANYHOST_AUTH_DONE=1: "Hello, admin!"
// for a process running as nobody. Now identity is believed only with the
// web server's secret; without one configured it is never believed.
func TestDaemonForgedIdentityFromLocalUser(t *testing.T) {
	for _, withSecret := range []bool{true, false} {
		t.Run(map[bool]string{true: "with secret", false: "without secret"}[withSecret], func(t *testing.T) {
			h := startFastCGIApacheWith(t, fcgiOptions{NoSecret: !withSecret})
			// The real path works: Apache proves itself (or, without a
			// secret, the responder checks the password itself).
			r := testhost.Do(t, "GET", h.URL+"/private/", nil, testhost.BasicHeader("demo", "demo"))
			require.Equal(t, http.StatusOK, r.Status)
			require.Equal(t, "Hello, demo!", string(r.Body))

			for _, extra := range [][]string{nil, {"ANYHOST_SECRET", "guessed-guessed-guessed-guessed-guessed"}} {
				out := testhost.FastCGIAsNobody(t, h.GoAddr, forgedParams(extra...)...)
				assert.NotContains(t, out, "Hello, admin!", "forged identity believed: %s", out)
				want := "Status: 401"
				if withSecret {
					want = "Status: 403"
				}
				assert.Contains(t, out, want, out)
			}
		})
	}
}

// Regression (security): in-process, the strings handed to handlers
// (method, path, headers, notes, the net/http view) were views of the
// record mod_anyhost packs in Apache's request pool, reused for the next
// request: a handler that kept them (WebDAV lock tokens in
// golang.org/x/net/webdav) later read other requests' bytes. demo.retain
// keeps every string of every request and, asked with ?check, reports
// whether any changed; all requests go over one connection, so one child
// serves them all, reusing its pool memory request after request.
func TestInProcessKeptStringsStayValid(t *testing.T) {
	site := writeSite(t, "[[location]]\npath = \"/retain\"\ncontent = [\"demo.retain\"]\n")
	for _, mpm := range []string{"event", "prefork"} {
		t.Run(mpm, func(t *testing.T) {
			a := testhost.StartApache(t, testhost.ApacheOptions{MPM: mpm, SiteFile: site, Extra: "MaxKeepAliveRequests 0\n"})
			c, err := net.DialTimeout("tcp", a.Addr, 5*time.Second)
			require.NoError(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			br := bufio.NewReader(c)
			get := func(target string, header string) testhost.Response {
				_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", target, header)
				require.NoError(t, err)
				resp, err := http.ReadResponse(br, nil)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				return testhost.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
			}
			for i := range 400 {
				r := get(fmt.Sprintf("/retain/item-%d?n=%d", i, i),
					fmt.Sprintf("If: (<opaquelocktoken:%08x-%d>)\r\nX-Filler-%d: %s\r\n", i*7919, i, i%9, strings.Repeat(string(rune('a'+i%26)), 50+i%200)))
				require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r.Body)
			}
			r := get("/retain?check", "")
			require.Equal(t, http.StatusOK, r.Status)
			var rep demo.RetainReport
			require.NoError(t, json.Unmarshal(r.Body, &rep), "%s", r.Body)
			assert.Greater(t, rep.Kept, 4000, "the handler kept the strings of all 400 requests")
			assert.Zero(t, rep.Changed, "kept strings changed after their request ended, e.g. %q", rep.Example)
		})
	}
}

// slowloris keeps n connections open that send a header line every second
// and never finish, opening a new one whenever the server closes one, until
// the test ends.
func slowloris(t *testing.T, addr string, n int) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
						continue
					}
				}
				io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n")
				for i := 0; ; i++ {
					select {
					case <-stop:
						c.Close()
						return
					case <-time.After(time.Second):
					}
					if _, err := fmt.Fprintf(c, "X-Slow-%d: x\r\n", i); err != nil {
						break
					}
				}
				c.Close()
			}
		}()
	}
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
}

// Regression: under the generated prefork config, 200 slow connections
// starved the children, which serve one connection each (6 of 24 probes
// timed out). mod_reqtimeout now gives a client 5 s for its first header
// bytes and then wants 500 B/s: a connection trickling a header line a
// second holds a child 5 s, not 10 (header=10 before), and with children
// kept ready real clients get through once the burst is absorbed. (The
// first seconds of a burst larger than the ready children still queue new
// clients: prefork spawns at most 32 children a second.)
func TestPreforkSurvivesSlowloris(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{MPM: "prefork"})
	c, err := net.DialTimeout("tcp", a.Addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		io.Copy(io.Discard, c) // until Apache closes it
		closed <- time.Since(start)
	}()
	io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n")
	var held time.Duration
wait:
	for i := 0; ; i++ {
		select {
		case held = <-closed:
			break wait
		case <-time.After(time.Second):
		}
		fmt.Fprintf(c, "X-Slow-%d: x\r\n", i)
		if time.Since(start) > 15*time.Second {
			held = time.Since(start)
			break
		}
	}
	assert.Less(t, held, 8*time.Second, "a slow client held a prefork child for %v", held)

	slowloris(t, a.Addr, 200)
	time.Sleep(12 * time.Second) // the burst is absorbed (measured: 8-12 s on 2 cores)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 6 {
		time.Sleep(300 * time.Millisecond)
		begin := time.Now()
		resp, err := client.Get(a.URL + "/hello")
		if !assert.NoError(t, err, "probe %d while 200 slow connections keep coming", i) {
			continue
		}
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		t.Logf("probe %d: %v", i, time.Since(begin))
	}
}

// The secret reaches the Go side only, never what Apache runs itself:
//   - not content Apache serves behind the authorizer (a location with
//     [location.auth] and no content: static files, CGI, PHP), whose
//     environment and .htaccess files any local user with a public_html or a
//     script could read;
//   - not an .htaccess line (Apache expands ${NAME} there: no Define holds it);
//   - not an ErrorDocument for an error the Go side sent (ProxyErrorOverride),
//     which runs as an internal redirect with the environment kept as
//     REDIRECT_*.
func TestDaemonSecretStaysOutOfApache(t *testing.T) {
	// Without the demo's index at /, whose content /docs would inherit.
	demoSite, _, _ := strings.Cut(string(demo.SiteTOML), "# The page at /")
	site := writeSite(t, demoSite+`
[[location]]
path = "/docs"
  [location.auth]
  realm = "docs"
  providers = ["demo.users"]
  require = ["valid-user"]
`)
	h := startFastCGIApacheWith(t, fcgiOptions{GoSite: site, ConfSite: site, Extra: `
LoadModule headers_module /usr/lib/apache2/modules/mod_headers.so
<Directory "ROOT/htdocs">
    AllowOverride All
</Directory>
<Location "/panic">
    ProxyErrorOverride On
</Location>
ErrorDocument 500 /denied.txt
<Location "/denied.txt">
    Header always set X-Redirect-Secret "%{REDIRECT_ANYHOST_SECRET}e"
    Header always set X-Secret "%{ANYHOST_SECRET}e"
</Location>
`})
	docs := filepath.Join(h.Root, "htdocs", "docs")
	require.NoError(t, os.MkdirAll(docs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(docs, "page.txt"), []byte("page\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(docs, ".htaccess"), []byte(
		"Header always set X-Define \"${ANYHOST_SECRET_VALUE}\"\nHeader always set X-Env \"%{ANYHOST_SECRET}e\"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(h.Root, "htdocs", "denied.txt"), []byte("denied\n"), 0o644))
	b, err := os.ReadFile(filepath.Join(h.SecretDir, "secret"))
	require.NoError(t, err)
	value := strings.TrimSpace(string(b))

	r := testhost.Do(t, "GET", h.URL+"/docs/page.txt", nil, testhost.BasicHeader("demo", "demo"))
	require.Equal(t, http.StatusOK, r.Status, "Apache serves it behind the authorizer")
	require.Equal(t, "page\n", string(r.Body))
	for _, name := range []string{"X-Define", "X-Env"} {
		require.NotEmpty(t, r.Header.Values(name), "the .htaccess ran (%s)", name)
		assert.NotContains(t, r.Header.Get(name), value, name)
	}
	r = testhost.Do(t, "GET", h.URL+"/panic", nil, nil)
	require.Equal(t, http.StatusInternalServerError, r.Status)
	require.Equal(t, "denied\n", string(r.Body), "the ErrorDocument answered the Go side's 500")
	for _, name := range []string{"X-Redirect-Secret", "X-Secret"} {
		require.NotEmpty(t, r.Header.Values(name), "the ErrorDocument's headers are set (%s)", name)
		assert.NotContains(t, r.Header.Get(name), value, name)
	}
}

// Regression (security review): ANYHOST_AUTH_DONE was a constant of the
// generated <Location>, so where an admin's own Require replaced ours the
// authorizer never ran and the responder still skipped the auth phases.
// Now it is the authorizer's own answer, and without it the responder
// checks.
func TestDaemonAuthDoneOnlyFromTheAuthorizer(t *testing.T) {
	h := startFastCGIApacheWith(t, fcgiOptions{Extra: `
<Location "/private">
    Require all granted
</Location>
`})
	r := testhost.Do(t, "GET", h.URL+"/private/", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status, "body %s", r.Body)
	assert.NotContains(t, string(r.Body), "Hello")
	r = testhost.Do(t, "GET", h.URL+"/private/", nil, testhost.BasicHeader("demo", "demo"))
	assert.Equal(t, "Hello, demo!", string(r.Body), "the responder checked the password itself")
}

// Regression: when Apache's input filter has already answered a body
// (AP_FILTER_ERROR, -102: a chunked body past LimitRequestBody, a broken
// chunk), mod_anyhost's read_body negated it into "102 bytes read" that
// were never written, so the handler took stale buffer bytes for the body.
// Now the read fails and the handler never answers with that body.
func TestInProcessFilterErrorIsNoBody(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{Extra: "<Location /echo>\nLimitRequestBody 10\n</Location>\n"})
	for name, body := range map[string]string{
		"past LimitRequestBody": "40\r\n" + strings.Repeat("x", 64) + "\r\n0\r\n\r\n",
		"broken chunk":          "5\r\nhello\r\nzz-not-a-size\r\nmore\r\n0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", a.Addr, 5*time.Second)
			require.NoError(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			_, err = io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+body)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.GreaterOrEqual(t, resp.StatusCode, 400, "%s", got)
			assert.NotContains(t, string(got), "body_sha256", "the handler never answers with a body it did not get")
		})
	}
	assert.NotContains(t, a.ErrorLog(), "more bytes than the buffer holds")
}
