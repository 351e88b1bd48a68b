package module_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
	"github.com/anyhost/anyhost/internal/testhost/gate"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// writeSite writes a site file nginx's workers (www-data) can read.
func writeSite(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(testhost.NewNginxPrefix(t), "site.toml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func demoSite(t *testing.T, extra string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testhost.ModuleRoot(), "handlers", "demo", "site.toml"))
	require.NoError(t, err)
	return writeSite(t, string(b)+extra)
}

const gateLocation = "\n[[location]]\npath = \"/gate\"\ncontent = [\"test.gate\"]\n"

func TestConformance(t *testing.T) {
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{})
	testhost.RunConformance(t, n.Target("nginx-module"))
	assert.Contains(t, n.ErrorLog(), "handler panicked", "Go's log lines reach nginx's error log")
	assert.NotContains(t, n.ErrorLog(), "exited on signal")
}

func TestEchoMatchesStandalone(t *testing.T) {
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{})
	s := testhost.StartAnyhost(t)
	testhost.EchoMatches(t, s.URL, n.URL)
}

// Every built-in provider, with the auth phases in nginx's ACCESS phase
// (no subrequest).
func TestAuthProviders(t *testing.T) {
	site := testhost.WriteAuthSite(t, testhost.NewNginxPrefix(t), testhost.StartSlapd(t), true)
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{SiteFile: site.Path})
	testhost.RunAuthConformance(t, n.Target("nginx-module"), site)
	assert.Contains(t, readFile(t, filepath.Join(n.Prefix, "access.log")), " - carol [", "the access log names the user Go authenticated")
}

// What access established reaches content in-process whole: the groups a
// provider found and a token's claims, which no FastCGI param carries.
func TestIdentityReachesContent(t *testing.T) {
	site := testhost.WriteAuthSite(t, testhost.NewNginxPrefix(t), nil, true)
	text := readFile(t, site.Path) + `
[[location]]
path = "/idh"
content = ["test.gate"]
  [location.auth]
  realm = "htpasswd"
  providers = [{name = "htpasswd", options = {file = "users.htpasswd", groups = "groups"}}]
  require = ["group staff"]

[[location]]
path = "/idj"
content = ["test.gate"]
  [location.auth]
  type = "bearer"
  realm = "api"
  providers = [{name = "jwt", options = {key = "file:hs.key", issuer = "` + testhost.AuthIssuer + `", audience = "` + testhost.AuthAudience + `"}}]
  require = ["claim role=admin"]
`
	require.NoError(t, os.WriteFile(site.Path, []byte(text), 0o644))
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{SiteFile: site.Path})

	var id struct {
		User   string
		Groups []string
		Claims map[string]any
	}
	r := testhost.Do(t, "GET", n.URL+"/idh/who", nil, testhost.BasicHeader("carol", "carol-pw"))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.NoError(t, json.Unmarshal(r.Body, &id), "%s", r.Body)
	assert.Equal(t, "carol", id.User)
	assert.Contains(t, id.Groups, "staff")

	tok := site.Token(t, "zoe", "admin", time.Now().Add(time.Hour))
	r = testhost.Do(t, "GET", n.URL+"/idj/who", nil, http.Header{"Authorization": {"Bearer " + tok}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.NoError(t, json.Unmarshal(r.Body, &id), "%s", r.Body)
	assert.Equal(t, "zoe", id.User)
	assert.Equal(t, "admin", id.Claims["role"])
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func stats(t *testing.T, url string) gate.Stats {
	t.Helper()
	var s gate.Stats
	r := testhost.Do(t, "GET", url+"/gate/stats", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.NoError(t, json.Unmarshal(r.Body, &s), "%s", r.Body)
	return s
}

// The event loop never waits on a handler: with one worker, 50 requests
// held by a handler leave the worker serving others. Checked by counts,
// not times.
func TestHandlersNeverBlockTheLoop(t *testing.T) {
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{SiteFile: demoSite(t, gateLocation), Workers: 1})
	const held = 50
	client := &http.Client{Timeout: 2 * time.Minute}
	results := make(chan int, held)
	for range held {
		go func() {
			resp, err := client.Get(n.URL + "/gate/wait")
			if err != nil {
				results <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- resp.StatusCode
		}()
	}
	require.Eventually(t, func() bool { return stats(t, n.URL).InFlight == held }, 20*time.Second, 50*time.Millisecond)

	quick := &http.Client{Timeout: 5 * time.Second}
	resp, err := quick.Get(n.URL + "/hello")
	require.NoError(t, err, "while %d requests are held, /hello answers", held)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "Hello!", string(body))
	assert.Equal(t, held, stats(t, n.URL).InFlight, "all still held")

	assert.Equal(t, http.StatusOK, testhost.Do(t, "GET", n.URL+"/gate/release", nil, nil).Status)
	for range held {
		assert.Equal(t, http.StatusOK, <-results)
	}
	s := stats(t, n.URL)
	assert.Zero(t, s.InFlight)
	assert.Equal(t, held, s.Completed)
}

// A client that goes away cancels the handler's context.
func TestClientGoneCancelsContext(t *testing.T) {
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{SiteFile: demoSite(t, gateLocation), Workers: 1})
	c, err := net.Dial("tcp", n.Addr)
	require.NoError(t, err)
	_, err = io.WriteString(c, "GET /gate/wait HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return stats(t, n.URL).InFlight == 1 }, 10*time.Second, 20*time.Millisecond)
	c.Close()
	require.Eventually(t, func() bool { s := stats(t, n.URL); return s.Cancelled == 1 && s.InFlight == 0 },
		10*time.Second, 20*time.Millisecond)
	assert.Contains(t, readFile(t, filepath.Join(n.Prefix, "access.log")), `"GET /gate/wait HTTP/1.1" 499`)
}

// A large response streams through, flushed or not, intact, also to a
// client that reads slowly (the handler's writes block past a bound).
func TestStreamedResponses(t *testing.T) {
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{SiteFile: demoSite(t, gateLocation), Workers: 1})
	want := func(size int) string {
		b := make([]byte, 0, size)
		for len(b) < size {
			for i := 0; i < 8<<10 && len(b) < size; i++ {
				b = append(b, byte('a'+i%26))
			}
		}
		return fmt.Sprintf("%x", sha256.Sum256(b))
	}
	for _, q := range []string{"n=20971520&flush=1", "n=20971520", "n=1", "n=100000&flush=1"} {
		r := testhost.Do(t, "GET", n.URL+"/gate/stream?"+q, nil, nil)
		require.Equal(t, http.StatusOK, r.Status, q)
		var size int
		fmt.Sscanf(q, "n=%d", &size)
		assert.Equal(t, size, len(r.Body), q)
		assert.Equal(t, want(size), fmt.Sprintf("%x", sha256.Sum256(r.Body)), q)
	}

	// A slow reader: 64 MiB while reading 1 MiB at a time with pauses.
	c, err := net.Dial("tcp", n.Addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /gate/stream?n=67108864 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	got := 0
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		k, err := io.ReadFull(resp.Body, buf)
		got += k
		if err != nil {
			break
		}
		if i < 5 {
			time.Sleep(200 * time.Millisecond)
			// While this client lags, others are served.
			assert.Equal(t, http.StatusOK, testhost.Do(t, "GET", n.URL+"/hello", nil, nil).Status)
		}
	}
	assert.Equal(t, 64<<20, got)
}

// nginx -s reload and a library swap by rename under load: zero non-2xx;
// socket errors only where nginx closed an idle keep-alive connection as
// its old workers left.
func TestReloadAndLibrarySwapUnderLoad(t *testing.T) {
	v1 := testhost.NginxModuleLibDir(t) // with greet
	v2 := testhost.NewNginxPrefix(t)
	testhost.BuildNginxModuleLib(t, v2) // without
	live := testhost.NewNginxPrefix(t)
	install := func(from string) {
		for _, f := range []string{"anyhost-app.so.names", "anyhost-app.so", "ngx_http_anyhost_module.so"} {
			b, err := os.ReadFile(filepath.Join(from, f))
			require.NoError(t, err)
			tmp := filepath.Join(live, "."+f+".new")
			require.NoError(t, os.WriteFile(tmp, b, 0o755))
			require.NoError(t, os.Rename(tmp, filepath.Join(live, f)))
		}
	}
	install(v1)
	// A handler directive of nginx's own: a library without greet costs
	// only this location (500), the site keeps serving.
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{LibDir: live,
		Server: "        location /greet {\n            anyhost_handler greet;\n        }"})
	assert.Equal(t, "Hello, v1!\n", string(testhost.Do(t, "GET", n.URL+"/greet?name=v1", nil, nil).Body))

	// New connections show every reload is served through; wrk's keep-alive
	// ones beside them, the errors a reload may cause on those.
	hello := testhost.LoadTarget{Path: "/hello", Want: "Hello!"}
	load := testhost.StartLoad(t, n.URL, true, hello, hello, hello, hello)
	load.Progressed(t, "before the first reload")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitWrk := testhost.StartWrk(t, ctx, n.URL+"/hello", 6*time.Second, 8, "--timeout", "10s")
	steps := []struct {
		do   func()
		want int
	}{
		{func() {}, http.StatusOK},                               // a plain reload
		{func() { install(v2) }, http.StatusInternalServerError}, // no greet: that handler fails to build
		{func() { install(v1) }, http.StatusOK},
	}
	for i, step := range steps {
		step.do()
		require.NoError(t, n.Signal(syscall.SIGHUP))
		require.Eventually(t, func() bool { return strings.Count(n.ErrorLog(), "(SIGHUP) received") == i+1 },
			30*time.Second, 10*time.Millisecond, "reload %d", i)
		load.Progressed(t, fmt.Sprintf("after reload %d", i))
		assert.Equal(t, step.want, testhost.GetUntil(t, n.URL+"/greet?name=x", step.want).Status, "reload %d: /greet", i)
	}
	res := waitWrk()
	t.Logf("wrk: %d requests, %d non-2xx, socket errors %s", res.Requests, res.Non2xx3xx, res.SocketErrors)
	failures := load.Stop()
	assert.Empty(t, failures)
	assert.Zero(t, res.Non2xx3xx)
	assert.Zero(t, res.SocketErrors.Connect+res.SocketErrors.Write+res.SocketErrors.Timeout)
	log := n.ErrorLog()
	assert.NotContains(t, log, "exited on signal")
	assert.NotContains(t, log, "[alert]", "old workers leave cleanly (no open socket left behind)")
	assert.Equal(t, 3, strings.Count(log, "(SIGHUP) received"), "three reloads")
}

// A library that cannot load costs 500s, never a worker.
func TestBrokenLibraryAnswers500(t *testing.T) {
	lib := testhost.NewNginxPrefix(t)
	good := testhost.NginxModuleLibDir(t)
	b, err := os.ReadFile(filepath.Join(good, "ngx_http_anyhost_module.so"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(lib, "ngx_http_anyhost_module.so"), b, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(lib, "anyhost-app.so"), []byte("not a library"), 0o755))
	names, err := os.ReadFile(filepath.Join(good, "anyhost-app.so.names"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(lib, "anyhost-app.so.names"), names, 0o644))
	n := testhost.StartNginx(t, testhost.NginxModuleConf(t, testhost.NginxModuleOptions{LibDir: lib}))
	for range 3 {
		assert.Equal(t, http.StatusInternalServerError, testhost.Do(t, "GET", n.URL+"/hello", nil, nil).Status)
	}
	assert.Contains(t, n.ErrorLog(), "anyhost: cannot load")
	assert.NotContains(t, n.ErrorLog(), "exited on signal")
}

// rawExchange sends request on one connection and returns all it reads
// until the server closes it or 3 s pass without a byte.
func rawExchange(t *testing.T, addr, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, request)
	require.NoError(t, err)
	var out strings.Builder
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// Regressions from an attacker's review of the module: hostile handlers
// and clients get what the other hosts give them.
func TestHostileHandlersAndClients(t *testing.T) {
	site := demoSite(t, gateLocation+`
[[location]]
path = "/ph"
access = [{handler = "demo.status", options = {status = "done", write = "phase wrote this"}}]
content = ["demo.echo"]

[[location]]
path = "/pdone"
header-parser = [{handler = "demo.status", options = {status = "done"}}]
content = ["demo.echo"]
`)
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{SiteFile: site, Workers: 1, Server: `
        location /sat {
            satisfy any;
            deny all;
            anyhost_access_handler demo.status status=declined;
            anyhost_handler demo.hello;
        }
        location /deny {
            deny all;
        }`})

	t.Run("slow stream, then the client leaves", func(t *testing.T) {
		c, err := net.Dial("tcp", n.Addr)
		require.NoError(t, err)
		_, err = io.WriteString(c, "GET /gate/stream?n=268435456 HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		buf := make([]byte, 1<<20)
		_, err = io.ReadFull(c, buf) // nginx stalls on the rest
		require.NoError(t, err)
		time.Sleep(500 * time.Millisecond)
		c.Close()
		require.Eventually(t, func() bool { return stats(t, n.URL).Streams >= 1 }, 10*time.Second, 50*time.Millisecond,
			"the handler's writes fail and it returns")
	})
	t.Run("a phase that writes the response discards the body", func(t *testing.T) {
		smuggled := "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
		out := rawExchange(t, n.Addr, fmt.Sprintf("POST /ph HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%sGET /gate/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", len(smuggled), smuggled))
		assert.Contains(t, out, "phase wrote this")
		assert.NotContains(t, out, "Hello!", "the body was read as a request")
		assert.Equal(t, 2, strings.Count(out, "HTTP/1.1 200"), out)
	})
	t.Run("Done without a response is an empty 200", func(t *testing.T) {
		r := testhost.Do(t, "GET", n.URL+"/pdone", nil, nil)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Empty(t, r.Body)
	})
	t.Run("header values cannot split the response", func(t *testing.T) {
		out := rawExchange(t, n.Addr, "GET /gate/header?v=a%0d%0aSet-Cookie:%20evil=1%0d%0a%0d%0ainjected HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		assert.NotContains(t, out, "\r\nSet-Cookie:")
		assert.Contains(t, out, "X-Gate: a  Set-Cookie: evil=1    injected\r\n")
	})
	t.Run("no more than the declared Content-Length", func(t *testing.T) {
		out := rawExchange(t, n.Addr, "GET /gate/length?declare=5&n=20 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		assert.Contains(t, out, "\r\n\r\nxxxxxHTTP/1.1 200 OK\r\n", out)
		assert.Contains(t, out, "Hello!")
		// Fewer than declared: the connection closes after the response.
		out = rawExchange(t, n.Addr, "GET /gate/length?declare=20&n=5 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		assert.NotContains(t, out, "Hello!", "no second response on a connection whose body fell short")
	})
	t.Run("local redirects", func(t *testing.T) {
		out := rawExchange(t, n.Addr, "HEAD /gate/redirect?to=/hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		assert.Equal(t, 1, strings.Count(out, "Hello!"), "HEAD stays HEAD: no body before the next response\n%s", out)
		r := testhost.Do(t, "GET", n.URL+"/gate/redirect?to=/gate/../deny", nil, nil)
		assert.Equal(t, http.StatusInternalServerError, r.Status, "a target with .. is refused, as X-Accel-Redirect's")
		r = testhost.Do(t, "POST", n.URL+"/gate/redirect?to=/echo", strings.NewReader("body bytes"), nil)
		require.Equal(t, http.StatusOK, r.Status)
		e := testhost.EchoOf(t, r)
		assert.Equal(t, "GET", e.Method)
		assert.Zero(t, e.BodyLength, "the redirected GET has no body")
	})
	t.Run("satisfy any: a declining Go handler grants nothing", func(t *testing.T) {
		assert.Equal(t, http.StatusForbidden, testhost.Do(t, "GET", n.URL+"/sat", nil, nil).Status)
	})
	t.Run("a huge log line is cut, not a hang", func(t *testing.T) {
		big := strings.Repeat("x", 200<<10)
		r := testhost.Do(t, "GET", n.URL+"/panic?"+big[:8000], nil, nil)
		assert.Equal(t, http.StatusInternalServerError, r.Status)
	})
	assert.Equal(t, http.StatusOK, testhost.Do(t, "GET", n.URL+"/hello", nil, nil).Status)
	assert.NotContains(t, n.ErrorLog(), "exited on signal")
}

// $anyhost_user is the user Go authenticated, never the Authorization
// header's unverified name ($remote_user).
func TestAccessLogNamesTheGoUser(t *testing.T) {
	n := testhost.StartNginxModule(t, testhost.NginxModuleOptions{})
	assert.Equal(t, http.StatusOK, testhost.Do(t, "GET", n.URL+"/private/", nil, testhost.BasicHeader("demo", "demo")).Status)
	assert.Equal(t, http.StatusOK, testhost.Do(t, "GET", n.URL+"/hello?forged", nil, testhost.BasicHeader("admin", "x")).Status)
	log := func() string { return readFile(t, filepath.Join(n.Prefix, "access.log")) }
	require.Eventually(t, func() bool { return strings.Contains(log(), "/hello?forged") }, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, log(), " - demo [")
	assert.NotContains(t, log(), "admin")
}
