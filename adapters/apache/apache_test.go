package apache_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
	"github.com/anyhost/anyhost/internal/wrk"
)

type wrkResult = wrk.Result

func TestMain(m *testing.M) { testhost.Main(m) }

// writeSite writes a site file where Apache's children (www-data) can read it.
func writeSite(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(testhost.NewApacheRoot(t), "site.toml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestConformanceEvent(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{MPM: "event"})
	testhost.RunConformance(t, a.Target())
	assert.Contains(t, a.ErrorLog(), "handler panicked", "Go's log lines reach Apache's error log")
	assert.NotContains(t, a.ErrorLog(), "exit signal")
}

func TestConformancePrefork(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{MPM: "prefork"})
	testhost.RunConformance(t, a.Target())
	assert.NotContains(t, a.ErrorLog(), "exit signal")
}

// The same requests to /echo give the same answer in-process as standalone,
// but for what DESIGN.md lets differ.
func TestEchoMatchesStandalone(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{})
	s := testhost.StartAnyhost(t)
	testhost.EchoMatches(t, s.URL, a.URL)
}

// AuthBasicProvider chains Apache's own file provider with a Go chain.
func TestAuthBasicProviderChainsGoWithApacheFile(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{Extra: `
LoadModule authn_file_module /usr/lib/apache2/modules/mod_authn_file.so
<Location "/mixed">
    SetHandler anyhost
    AnyhostHandler demo.private
    AuthType Basic
    AuthName "mixed"
    AuthBasicProvider file anyhost_private
    AuthUserFile "ROOT/users"
    Require valid-user
</Location>
`})
	htpasswd := testhost.NeedBinary(t, "htpasswd")
	out, err := exec.Command(htpasswd, "-cbB", filepath.Join(a.Root, "users"), "fileuser", "filepass").CombinedOutput()
	require.NoError(t, err, "%s", out)
	os.Chmod(filepath.Join(a.Root, "users"), 0o644)

	for _, c := range []struct {
		user, pass string
		status     int
	}{
		{"fileuser", "filepass", 200}, // only in Apache's AuthUserFile
		{"demo", "demo", 200},         // only in the Go chain
		{"fileuser", "wrong", 401},
		{"demo", "wrong", 401},
		{"nobody", "x", 401},
	} {
		r := testhost.Do(t, "GET", a.URL+"/mixed/", nil, testhost.BasicHeader(c.user, c.pass))
		assert.Equal(t, c.status, r.Status, "%s:%s", c.user, c.pass)
		if c.status == 200 {
			assert.Equal(t, "Hello, "+c.user+"!", string(r.Body))
		}
	}
	require.Eventually(t, func() bool { return strings.Contains(a.AccessLog(), " demo [") }, 5*time.Second, 20*time.Millisecond,
		"the Go-authenticated user appears in Apache's access log:\n%s", a.AccessLog())
	assert.Contains(t, a.AccessLog(), " fileuser [")
}

func TestConfigTestRejectsUnknownHandler(t *testing.T) {
	root := testhost.NewApacheRoot(t)
	conf := testhost.ApacheConf(t, root, "127.0.0.1:1", testhost.ApacheOptions{Extra: `
<Location "/x">
    AnyhostHandler no.such.handler
</Location>
`})
	file := filepath.Join(root, "httpd.conf")
	require.NoError(t, os.WriteFile(file, []byte(conf), 0o644))
	out, err := exec.Command(testhost.ApacheBinary(t), "-t", "-f", file).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), `AnyhostHandler: unknown handler "no.such.handler"`)
	assert.Contains(t, string(out), "demo.hello", "the message lists what the library registers")
}

// brokenLibDir is a library directory whose library is a shared object
// that is not an anyhost library.
func brokenLibDir(t *testing.T) string {
	lib := testhost.ApacheLibDir(t)
	bad := testhost.NewApacheRoot(t)
	mod, err := os.ReadFile(filepath.Join(lib, "mod_anyhost.so"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bad, "mod_anyhost.so"), mod, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "anyhost-app.so"), mod, 0o755))
	names, err := os.ReadFile(filepath.Join(lib, "anyhost-app.so.names"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bad, "anyhost-app.so.names"), names, 0o644))
	return bad
}

// A library that cannot load costs 500s, never a child that exits (Apache
// would respawn it in a loop).
func TestBrokenLibraryAnswers500(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{LibDir: brokenLibDir(t)})
	for i := 0; i < 3; i++ {
		assert.Equal(t, http.StatusInternalServerError, testhost.Do(t, "GET", a.URL+"/hello", nil, nil).Status)
	}
	assert.Contains(t, a.ErrorLog(), "is not an anyhost library")
	assert.NotContains(t, a.ErrorLog(), "exit signal")
}

// Regression (review): an AnyhostSite file that failed to load when a child
// started left the site's phases to Apache, which then served its paths
// (DocumentRoot, 404) with none of the site's auth. Now every request is 500.
func TestBrokenSiteFileAnswers500(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "private"), []byte("secret file\n"), 0o644))
	site := writeSite(t, "[[location]]\npath = \"/\"\ncontent = [\"no.such.handler\"]\n")
	a := testhost.StartApache(t, testhost.ApacheOptions{SiteFile: writeSite(t, ""),
		Extra: `DocumentRoot "` + root + `"` + "\n" + `<Directory "` + root + `">` + "\nRequire all granted\n</Directory>\n" + `AnyhostSite "` + site + `"`})
	for _, path := range []string{"/private", "/hello"} {
		r := testhost.Do(t, "GET", a.URL+path, nil, nil)
		assert.Equal(t, http.StatusInternalServerError, r.Status, path)
		assert.NotContains(t, string(r.Body), "secret file")
	}
	assert.Contains(t, a.ErrorLog(), "AnyhostSite")
}

// Regression: under AnyhostSite, hook_log returned the site's status (500
// when the library did not load), which ends Apache's run-all log chain:
// the log modules after us (mod_log_forensic here) never ran for those
// requests.
func TestSiteLogHookLeavesLogChain(t *testing.T) {
	bad := brokenLibDir(t)
	demoSite, err := os.ReadFile(filepath.Join(testhost.ModuleRoot(), "handlers", "demo", "site.toml"))
	require.NoError(t, err)
	site := writeSite(t, string(demoSite))
	a := testhost.StartApache(t, testhost.ApacheOptions{LibDir: bad, MPM: "prefork", SiteFile: writeSite(t, ""), Extra: `AnyhostSite "` + site + `"
LoadModule log_forensic_module /usr/lib/apache2/modules/mod_log_forensic.so
ForensicLog ROOT/forensic.log`})
	for i := 0; i < 3; i++ {
		// Connection: close, as Apache logs a request when its connection
		// has written it out, which keep-alive may defer.
		st := testhost.Do(t, "GET", a.URL+"/hello?n="+strconv.Itoa(i), nil, http.Header{"Connection": {"close"}}).Status
		assert.Equal(t, http.StatusInternalServerError, st)
	}
	// mod_log_forensic writes "+id request" before and "-id" after, from
	// its log_transaction hook (APR_HOOK_REALLY_LAST).
	forensic := func() string { b, _ := os.ReadFile(filepath.Join(a.Root, "forensic.log")); return string(b) }
	logged := func() int {
		n, log := 0, forensic()
		for _, line := range strings.Split(log, "\n") {
			if id, _, ok := strings.Cut(strings.TrimPrefix(line, "+"), "|GET /hello?n="); ok && strings.Contains(log, "\n-"+id+"\n") {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return logged() == 3 }, 5*time.Second, 50*time.Millisecond, "forensic log: %s", forensic())
	assert.Equal(t, 3, strings.Count(a.AccessLog(), "/hello?n="))
}

// Graceful restarts under load: every child's Go runtime stops with it and
// starts in the new generation. Each request on its own connection, so the
// run sees only what anyhost controls: see keepAliveRace for why.
func TestGracefulRestartUnderLoad(t *testing.T) {
	for _, mpm := range []string{"event", "prefork"} {
		t.Run(mpm, func(t *testing.T) {
			a := testhost.StartApache(t, testhost.ApacheOptions{MPM: mpm})
			load := startHelloLoad(t, a)
			for i := range 2 {
				gracefulRestart(t, a, i)
				load.Progressed(t, fmt.Sprintf("after graceful restart %d", i))
			}
			failures := load.Stop()
			assert.Empty(t, failures)
			assert.NotContains(t, a.ErrorLog(), "exit signal")
		})
	}
}

// startHelloLoad starts 8 clients on /hello, each request on a new
// connection, and waits until each has one answered.
func startHelloLoad(t *testing.T, a *testhost.Apache) *testhost.Load {
	hello := testhost.LoadTarget{Path: "/hello", Want: "Hello!"}
	load := testhost.StartLoad(t, a.URL, true, hello, hello, hello, hello, hello, hello, hello, hello)
	load.Progressed(t, "before the first restart")
	return load
}

// gracefulRestart sends apachectl graceful's signal and waits for the new
// generation: restart i is done when Apache has logged its (i+2)nd
// "resuming normal operations" (the first is the start).
func gracefulRestart(t *testing.T, a *testhost.Apache, i int) {
	require.NoError(t, a.Signal(syscall.SIGUSR1))
	require.Eventually(t, func() bool { return strings.Count(a.ErrorLog(), "resuming normal operations") == i+2 },
		30*time.Second, 10*time.Millisecond, "graceful restart %d", i)
}

// underLoad runs wrk for d and calls step(0) and step(1) a third and two
// thirds of the way through.
func underLoad(t *testing.T, a *testhost.Apache, path string, d time.Duration, step func(int), wrkArgs ...string) *wrkResult {
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2; i++ {
			time.Sleep(d / 3)
			step(i)
		}
	}()
	res := testhost.Wrk(t, ctx, a.URL+path, d, 8, wrkArgs...)
	<-done
	t.Logf("wrk: %d requests, %d non-2xx, socket errors %s", res.Requests, res.Non2xx3xx, res.SocketErrors)
	return res
}

// With keep-alive, a graceful restart makes Apache's event MPM close idle
// keep-alive connections, racing a client's next request on them: wrk
// counts those as read errors, for static files exactly as for Go (measured:
// 1-9 per two restarts either way). Only read errors are allowed here, and
// never an error status.
func TestGracefulRestartKeepAlive(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{})
	require.NoError(t, os.WriteFile(filepath.Join(a.Root, "htdocs", "static.txt"), []byte("Hello!"), 0o644))
	for _, path := range []string{"/hello", "/static.txt"} {
		res := underLoad(t, a, path, 6*time.Second, func(int) { require.NoError(t, a.Signal(syscall.SIGUSR1)) },
			"--timeout", "10s")
		assert.Zero(t, res.Non2xx3xx, path)
		assert.Zero(t, res.SocketErrors.Connect+res.SocketErrors.Write+res.SocketErrors.Timeout, path)
	}
	assert.NotContains(t, a.ErrorLog(), "exit signal")
}

// A new library is installed by rename and picked up by a graceful restart,
// then the old one again, under load, without an error.
func TestLibrarySwapUnderLoad(t *testing.T) {
	v1 := testhost.ApacheLibDir(t)
	v2 := testhost.NewApacheRoot(t)
	testhost.BuildApacheLib(t, v2, "github.com/anyhost/anyhost/examples/greet")
	live := testhost.NewApacheRoot(t)
	install := func(from string) {
		for _, f := range []string{"anyhost-app.so.names", "anyhost-app.so", "mod_anyhost.so"} {
			b, err := os.ReadFile(filepath.Join(from, f))
			require.NoError(t, err)
			tmp := filepath.Join(live, "."+f+".new")
			require.NoError(t, os.WriteFile(tmp, b, 0o755))
			require.NoError(t, os.Rename(tmp, filepath.Join(live, f)))
		}
	}
	install(v1)
	a := testhost.StartApache(t, testhost.ApacheOptions{LibDir: live})
	base, err := os.ReadFile(a.ConfFile)
	require.NoError(t, err)
	greet := "\n<Location \"/greet\">\n    SetHandler anyhost\n    AnyhostHandler greet\n</Location>\n"
	assert.Equal(t, http.StatusNotFound, testhost.Do(t, "GET", a.URL+"/greet?name=v1", nil, nil).Status)

	load := startHelloLoad(t, a)
	for i, want := range []int{http.StatusOK, http.StatusNotFound} {
		if i == 0 {
			install(v2)
			require.NoError(t, os.WriteFile(a.ConfFile, append(base, greet...), 0o644))
		} else {
			install(v1)
			require.NoError(t, os.WriteFile(a.ConfFile, base, 0o644))
		}
		gracefulRestart(t, a, i)
		load.Progressed(t, fmt.Sprintf("after swap %d", i))
		r := testhost.GetUntil(t, a.URL+"/greet?name=v2", want)
		assert.Equal(t, want, r.Status, "swap %d: v2 has greet, v1 not", i)
		if i == 0 {
			assert.Equal(t, "Hello, v2!\n", string(r.Body), "the new library serves after the swap")
		}
	}
	failures := load.Stop()
	assert.Empty(t, failures)
	assert.NotContains(t, a.ErrorLog(), "exit signal")
	assert.NotContains(t, a.ErrorLog(), "Bus error")
	if t.Failed() {
		t.Log(a.AccessLog()[:0] + grepNon200(a.AccessLog()))
	}
}

func grepNon200(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if l != "" && !strings.Contains(l, "\" 200 ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A handler that cannot be built costs only the requests that reach it.
func TestBadHandlerOptionsFailOnlyThatLocation(t *testing.T) {
	a := testhost.StartApache(t, testhost.ApacheOptions{Extra: `
<Location "/bad">
    AnyhostHandler static root=/no/such/dir
</Location>
`})
	assert.Equal(t, http.StatusInternalServerError, testhost.Do(t, "GET", a.URL+"/bad/x", nil, nil).Status)
	assert.Equal(t, http.StatusOK, testhost.Do(t, "GET", a.URL+"/hello", nil, nil).Status)
	assert.Contains(t, a.ErrorLog(), "some handlers could not be built")
	assert.Contains(t, a.ErrorLog(), "/no/such/dir")
}

// AnyhostSite serves a whole site file from Go: the demo site passes the
// same conformance table, its auth running in Apache's access hook.
func TestAnyhostSiteDirective(t *testing.T) {
	demoSite, err := os.ReadFile(filepath.Join(testhost.ModuleRoot(), "handlers", "demo", "site.toml"))
	require.NoError(t, err)
	site := writeSite(t, string(demoSite))
	empty := writeSite(t, "")
	a := testhost.StartApache(t, testhost.ApacheOptions{SiteFile: empty, Extra: `AnyhostSite "` + site + `"`})
	testhost.RunConformance(t, a.Target())
}

// A site location at / leaves the handlers other modules chose alone: a
// ScriptAlias'd CGI script still runs (with SetHandler anyhost at / it was
// served as a file), a static file is still served, and / is the demo's
// index page.
func TestRootLocationLeavesOtherHandlers(t *testing.T) {
	scripts := testhost.NewApacheRoot(t)
	require.NoError(t, os.WriteFile(filepath.Join(scripts, "hi"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nfrom CGI\\n'\n"), 0o755))
	a := testhost.StartApache(t, testhost.ApacheOptions{Extra: `
<IfModule !cgid_module>
    LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
</IfModule>
<IfModule !alias_module>
    LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
</IfModule>
ScriptSock "ROOT/cgid.sock"
ScriptAlias /cgi/ "` + scripts + `/"
`})
	require.NoError(t, os.WriteFile(filepath.Join(a.Root, "htdocs", "f.txt"), []byte("a file\n"), 0o644))
	r := testhost.Do(t, "GET", a.URL+"/cgi/hi", nil, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "from CGI\n", string(r.Body))
	r = testhost.Do(t, "GET", a.URL+"/f.txt", nil, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "a file\n", string(r.Body))
	r = testhost.Do(t, "GET", a.URL+"/", nil, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, string(r.Body), `<a href="/hello">`)
	assert.Equal(t, http.StatusOK, testhost.Do(t, "GET", a.URL+"/hello", nil, nil).Status)
}
