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
