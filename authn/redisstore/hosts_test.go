package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/htpasswd"
	"github.com/anyhost/anyhost/internal/testhost"
)

// siteDir writes a site whose /private location checks an htpasswd file
// holding users (user -> password), with the cache and the throttle in the
// Redis at url. onStoreError is the throttle's failure mode.
func siteDir(t *testing.T, url, onStoreError string, users map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for u, p := range users {
		e, err := htpasswd.Entry(u, p, 10)
		require.NoError(t, err)
		lines = append(lines, e)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cache.key"), []byte("shared-by-every-host-0123456789\n"), 0o600))
	site := fmt.Sprintf(`[auth]
store = { name = "redis", options = { url = %q } }

[auth.cache]
ttl = "5m"
secret = "file:cache.key"

[auth.throttle]
max_user_failures = 3
max_client_failures = 0
window = "10m"
on_store_error = %q

[[location]]
path = "/private"
content = ["demo.private"]

  [location.auth]
  realm = "shared"
  providers = [{ name = "htpasswd", options = { file = "users" } }]
`, url, onStoreError)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "site.toml"), []byte(site), 0o644))
	return filepath.Join(dir, "site.toml")
}

// Two standalone hosts share one Redis: a credential verified on one is a
// cache hit on the other, and failures counted on one throttle the same user
// on the other. With Redis stopped the cache is bypassed (every password
// checked again) and the throttle follows on_store_error: closed is 503,
// open checks the password; never a grant without a check.
func TestHostsShareCacheAndThrottle(t *testing.T) {
	r := testhost.StartRedis(t)
	// Host B's file has another password for alice: B can only grant
	// alice's real password through the cache, which proves the hit.
	a := testhost.StartAnyhost(t, "--config", siteDir(t, r.URL, "open",
		map[string]string{"alice": "alice-pw-1", "bob": "bob-pw-1"}), "--log-level", "debug")
	b := testhost.StartAnyhost(t, "--config", siteDir(t, r.URL, "open",
		map[string]string{"alice": "other-pw-9", "bob": "bob-pw-1"}), "--log-level", "debug")
	closed := testhost.StartAnyhost(t, "--config", siteDir(t, r.URL, "closed",
		map[string]string{"alice": "alice-pw-1", "bob": "bob-pw-1"}), "--log-level", "debug")
	get := func(h *testhost.Anyhost, user, pass string) testhost.Response {
		return testhost.Do(t, "GET", h.URL+"/private/", nil, testhost.BasicHeader(user, pass))
	}

	assert.Equal(t, http.StatusUnauthorized, get(b, "alice", "alice-pw-1").Status, "not cached yet: B's own file refuses")
	res := get(a, "alice", "alice-pw-1")
	require.Equal(t, http.StatusOK, res.Status)
	assert.Equal(t, "Hello, alice!", string(res.Body))
	res = get(b, "alice", "alice-pw-1")
	assert.Equal(t, http.StatusOK, res.Status, "verified on A, a cache hit on B")
	assert.Equal(t, "Hello, alice!", string(res.Body))
	assert.Contains(t, b.SettledLog(t), "credentials found in the cache")

	// Three failures for bob on A throttle bob on B, right password or not.
	for range 3 {
		assert.Equal(t, http.StatusUnauthorized, get(a, "bob", "guess").Status)
	}
	res = get(b, "bob", "bob-pw-1")
	assert.Equal(t, http.StatusTooManyRequests, res.Status)
	assert.Equal(t, "600", res.Header.Get("Retry-After"))
	assert.Equal(t, http.StatusTooManyRequests, get(closed, "bob", "bob-pw-1").Status)

	r.Stop()
	assert.Equal(t, http.StatusUnauthorized, get(b, "alice", "alice-pw-1").Status,
		"Redis down: B checks the password itself again and refuses")
	assert.Equal(t, http.StatusOK, get(a, "alice", "alice-pw-1").Status, "fail open: A checks and grants")
	assert.Equal(t, http.StatusOK, get(a, "bob", "bob-pw-1").Status, "fail open: no throttle without its store")
	assert.Equal(t, http.StatusUnauthorized, get(a, "alice", "wrong").Status)
	res = get(closed, "alice", "alice-pw-1")
	assert.Equal(t, http.StatusServiceUnavailable, res.Status, "fail closed (the default): 503, never a grant")
	assert.Contains(t, a.SettledLog(t), "credential cache unavailable")
	assert.Contains(t, closed.SettledLog(t), "throttle store unavailable (fail closed)")

	r.Start(t)
	assert.Equal(t, http.StatusOK, get(closed, "alice", "alice-pw-1").Status, "back when Redis is")

	for _, h := range []*testhost.Anyhost{a, b, closed} {
		log := h.SettledLog(t)
		for _, pw := range []string{"alice-pw-1", "bob-pw-1", "other-pw-9", "guess"} {
			assert.NotContains(t, log, pw, "no password in any log line")
		}
	}
}

// A reload replaces the site and, a grace period (--shutdown-timeout) later,
// closes the replaced site's Redis pool: reloads do not pile up connections.
func TestReloadClosesTheReplacedPool(t *testing.T) {
	r := testhost.StartRedis(t)
	site := siteDir(t, r.URL, "closed", map[string]string{"alice": "alice-pw-1"})
	h := testhost.StartAnyhost(t, "--config", site, "--shutdown-timeout", "1s")
	raw := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer raw.Close()
	ctx := context.Background()
	clients := func() int {
		list, err := raw.ClientList(ctx).Result()
		require.NoError(t, err)
		return strings.Count(strings.TrimSpace(list), "\n") // lines minus our own
	}
	login := func() {
		res := testhost.Do(t, "GET", h.URL+"/private/", nil, testhost.BasicHeader("alice", "alice-pw-1"))
		require.Equal(t, http.StatusOK, res.Status)
	}
	login()
	require.Equal(t, 1, clients(), "one pooled connection for the serving site")
	for i := 1; i <= 3; i++ {
		require.NoError(t, h.Signal(syscall.SIGHUP))
		require.Eventually(t, func() bool { return strings.Count(h.LogText(), "reloaded the site") == i },
			10*time.Second, 20*time.Millisecond)
		login()
	}
	require.Eventually(t, func() bool { return clients() == 1 }, 15*time.Second, 50*time.Millisecond,
		"the replaced sites' connections are closed after the grace period; %d open", clients())
	login()
}
