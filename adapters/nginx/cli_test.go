package nginx

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

// The deployment as a user runs it: `anyhost serve --adapter nginx` and
// `anyhost nginx conf --full` with the same flags, then nginx itself.
func TestServeAndConfCommands(t *testing.T) {
	bin := testhost.AnyhostBinary(t)
	dir := testhost.NewNginxPrefix(t)
	fcgi, auth := filepath.Join(dir, "fcgi.sock"), filepath.Join(dir, "auth.sock")
	flags := []string{"--listen", "unix:" + fcgi, "--auth-listen", "unix:" + auth}
	testhost.Start(t, testhost.Spec{
		Args:  append([]string{bin, "serve", "--adapter", "nginx", "--socket-group", "www-data"}, flags...),
		Dir:   dir,
		Ready: testhost.DialReady("unix", auth),
	})
	conf, err := exec.Command(bin, append(append([]string{"nginx", "conf"}, flags...),
		"--full", "--prefix", testhost.NginxPrefix, "--server-listen", testhost.NginxListen)...).Output()
	require.NoError(t, err)
	n := testhost.StartNginx(t, string(conf))

	r := testhost.Do(t, "GET", n.URL+"/hello", nil, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello!", string(r.Body))
	r = testhost.Do(t, "GET", n.URL+"/private/", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, []string{`Basic realm="anyhost demo"`}, r.Header.Values("WWW-Authenticate"))
	r = testhost.Do(t, "GET", n.URL+"/private/", nil, testhost.BasicHeader("demo", "demo"))
	assert.Equal(t, "Hello, demo!", string(r.Body))
}

// reloadSite is a site file: /hello and an authenticated /private, plus
// /hello2 when extra.
func reloadSite(extra bool) string {
	s := `[[location]]
path = "/hello"
content = ["demo.hello"]

[[location]]
path = "/private"
content = ["demo.private"]
  [location.auth]
  realm = "r"
  providers = ["demo.users"]
  require = ["valid-user"]
`
	if extra {
		s += "\n[[location]]\npath = \"/hello2\"\ncontent = [\"demo.hello\"]\n"
	}
	return s
}

// SIGHUP (systemctl reload) swaps in the re-read site file while nginx keeps
// sending requests: none fails, the new location answers after the reload,
// and a broken file is logged with its FILE:LINE and leaves the old site
// serving.
func TestReloadOnSIGHUPUnderLoad(t *testing.T) {
	bin := testhost.AnyhostBinary(t)
	dir := testhost.NewNginxPrefix(t)
	site := filepath.Join(dir, "site.toml")
	require.NoError(t, os.WriteFile(site, []byte(reloadSite(false)), 0o644))
	fcgi, auth := filepath.Join(dir, "fcgi.sock"), filepath.Join(dir, "auth.sock")
	flags := []string{"--listen", "unix:" + fcgi, "--auth-listen", "unix:" + auth, "--config", site}
	goProc := testhost.Start(t, testhost.Spec{
		Args:  append([]string{bin, "serve", "--adapter", "nginx", "--socket-group", "www-data", "--log-format", "json"}, flags...),
		Dir:   dir,
		Ready: testhost.DialReady("unix", auth),
	})
	conf, err := exec.Command(bin, append(append([]string{"nginx", "conf"}, flags...),
		"--full", "--prefix", testhost.NginxPrefix, "--server-listen", testhost.NginxListen)...).Output()
	require.NoError(t, err)
	n := testhost.StartNginx(t, string(conf))
	hello2 := func() int { return testhost.Do(t, "GET", n.URL+"/hello2", nil, nil).Status }
	require.Equal(t, http.StatusNotFound, hello2())

	// Load: clients loop over an open and an authenticated location.
	hello := testhost.LoadTarget{Path: "/hello", Want: "Hello!"}
	private := testhost.LoadTarget{Path: "/private/", User: "demo", Password: "demo", Want: "Hello, demo!"}
	load := testhost.StartLoad(t, n.URL, false, hello, private, hello, private)
	load.Progressed(t, "before the first reload")
	reload := func(text string) {
		require.NoError(t, os.WriteFile(site, []byte(text), 0o644))
		require.NoError(t, goProc.Signal(syscall.SIGHUP))
	}
	for round := range 3 {
		reload(reloadSite(true))
		require.Eventually(t, func() bool { return hello2() == http.StatusOK }, 10*time.Second, 10*time.Millisecond, "round %d", round)
		load.Progressed(t, fmt.Sprintf("after round %d's first reload", round))
		reload(reloadSite(false))
		require.Eventually(t, func() bool { return hello2() == http.StatusNotFound }, 10*time.Second, 10*time.Millisecond, "round %d", round)
		load.Progressed(t, fmt.Sprintf("after round %d's second reload", round))
	}
	reload(reloadSite(true))
	require.Eventually(t, func() bool { return hello2() == http.StatusOK }, 10*time.Second, 10*time.Millisecond)

	// A broken file: logged with its line, the old site keeps serving.
	reload(reloadSite(false) + "\n[[location]]\npath = \"/x\"\ncontent = [\"no.such.handler\"]\n")
	require.Eventually(t, func() bool { return strings.Contains(goProc.LogText(), "reload failed") }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, goProc.LogText(), site+`:15: unknown handler \"no.such.handler\"`)
	assert.Equal(t, http.StatusOK, hello2(), "the previous site still serves")
	load.Progressed(t, "after the broken file")
	reload("[[location]]\npath = \"/hello\"\ncontent = [\"demo.hello\"\n")
	require.Eventually(t, func() bool { return strings.Count(goProc.LogText(), "reload failed") == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, goProc.LogText(), site+":3: syntax error")
	assert.Equal(t, http.StatusOK, hello2())

	failures := load.Stop()
	assert.Empty(t, failures, "failed requests during reloads")
	assert.Equal(t, 7, strings.Count(goProc.LogText(), "reloaded the site"))
	select {
	case <-goProc.Done():
		t.Fatal("the process exited on SIGHUP")
	default:
	}
}
