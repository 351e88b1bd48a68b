package app_test

import (
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
)

// `serve` (standalone here; nginx's test covers the FastCGI and auth
// servers) re-reads its site file on SIGHUP; a broken file keeps the old
// site and is logged with its line.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site.toml")
	v1 := "[[location]]\npath = \"/hello\"\ncontent = [\"demo.hello\"]\n"
	v2 := v1 + "\n[[location]]\npath = \"/hello2\"\ncontent = [\"demo.hello\"]\n"
	require.NoError(t, os.WriteFile(site, []byte(v1), 0o644))
	a := testhost.StartAnyhost(t, "--config", site)
	status := func(path string) int { return testhost.Do(t, "GET", a.URL+path, nil, nil).Status }
	require.Equal(t, http.StatusNotFound, status("/hello2"))

	require.NoError(t, os.WriteFile(site, []byte(v2), 0o644))
	require.NoError(t, a.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return status("/hello2") == http.StatusOK }, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, os.WriteFile(site, []byte(v2+"path = 1\n"), 0o644))
	require.NoError(t, a.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(a.LogText(), "reload failed") }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, a.LogText(), site+":8:")
	assert.Equal(t, http.StatusOK, status("/hello2"))
	assert.Equal(t, http.StatusOK, status("/hello"))
}

// Log lines are written in batches off the request path; a stop writes
// every line still queued, the shutdown's own included.
func TestServeWritesEveryLogLineByExit(t *testing.T) {
	a := testhost.StartAnyhost(t)
	const n = 200
	for range n {
		require.Equal(t, http.StatusOK, testhost.Do(t, "GET", a.URL+"/hello", nil, nil).Status)
	}
	require.NoError(t, a.Signal(syscall.SIGTERM))
	select {
	case <-a.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit on SIGTERM")
	}
	log := a.LogText()
	assert.Equal(t, n, strings.Count(log, `"uri":"/hello"`), "one access line per request")
	assert.Contains(t, log, `"message":"stopped"`)
}
