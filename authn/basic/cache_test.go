package basic_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

// recordingCache is a store.Cache that keeps a copy of every entry put
// into it, so that a test can read what a shared store would hold.
type recordingCache struct {
	store.Cache
	mu      sync.Mutex
	entries map[string][]byte
}

func (c *recordingCache) CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.mu.Lock()
	c.entries[key] = append([]byte(nil), value...)
	c.mu.Unlock()
	return c.Cache.CachePut(ctx, key, value, ttl)
}

func TestCredentialCache(t *testing.T) {
	var logs bytes.Buffer
	mem := &recordingCache{Cache: store.NewMemory(100), entries: map[string][]byte{}}
	p := &hosttest.GroupProvider{Provider: hosttest.Provider{Users: map[string]string{"demo": "s3cret-pw"}}, GroupsOf: map[string][]string{"demo": {"staff"}}}
	cache := &basic.CredentialCache{Store: mem, Secret: []byte("0123456789abcdef0123"), TTL: time.Minute, Scope: "demo\x00htpasswd"}
	b := &basic.Basic{Realm: "demo", Providers: []core.PasswordProvider{p}, Cache: cache}

	st, _, r := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
	require.Equal(t, core.OK, st)
	assert.Equal(t, []string{"staff"}, r.Identity.Groups)
	assert.Equal(t, 1, p.Called())

	st, _, r = attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
	require.Equal(t, core.OK, st)
	assert.Equal(t, 1, p.Called(), "second login is a cache hit: the provider is not asked")
	assert.Equal(t, "demo", r.User)
	assert.Equal(t, "Basic", r.AuthType)
	assert.Equal(t, []string{"staff"}, r.Identity.Groups, "groups come back from the cache")

	// Wrong passwords are never cached and never hit.
	for range 2 {
		st, _, _ = attempt(b, "demo", "wrong", "192.0.2.1:1", &logs)
		assert.Equal(t, core.Status(http.StatusUnauthorized), st)
	}
	assert.Equal(t, 3, p.Called())

	// Another chain (scope) or another secret never hits.
	other := &basic.CredentialCache{Store: mem, Secret: cache.Secret, TTL: time.Minute, Scope: "admin\x00ldap"}
	b2 := &basic.Basic{Realm: "admin", Providers: []core.PasswordProvider{p}, Cache: other}
	attempt(b2, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
	assert.Equal(t, 4, p.Called())
	rekeyed := &basic.CredentialCache{Store: mem, Secret: []byte("another secret of 16+ bytes"), TTL: time.Minute, Scope: cache.Scope}
	b3 := &basic.Basic{Realm: "demo", Providers: []core.PasswordProvider{p}, Cache: rekeyed}
	attempt(b3, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
	assert.Equal(t, 5, p.Called())

	// What the store holds says neither the user nor the password, and is
	// no plain hash of them: the key is an HMAC under the secret.
	require.Len(t, mem.entries, 3, "one entry per chain and secret; wrong passwords are never cached")
	for k, v := range mem.entries {
		assert.True(t, strings.HasPrefix(k, "cred:"))
		assert.NotContains(t, k, "demo")
		assert.NotContains(t, string(v), "s3cret")
	}
	assert.NotContains(t, logs.String(), "s3cret-pw")
}

func TestCredentialCacheStoreDownChecksEveryPassword(t *testing.T) {
	var logs bytes.Buffer
	p := &hosttest.Provider{Users: map[string]string{"demo": "s3cret-pw"}}
	b := &basic.Basic{Realm: "demo", Providers: []core.PasswordProvider{p},
		Cache: &basic.CredentialCache{Store: brokenStore{}, Secret: []byte("0123456789abcdef"), TTL: time.Minute}}
	for i := 1; i <= 3; i++ {
		st, _, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
		assert.Equal(t, core.OK, st)
		assert.Equal(t, i, p.Called(), "bypassed: every password verified")
	}
	st, _, _ := attempt(b, "demo", "wrong", "192.0.2.1:1", &logs)
	assert.Equal(t, core.Status(http.StatusUnauthorized), st, "a store that is down never grants")
	assert.Contains(t, logs.String(), "credential cache unavailable")
	assert.NotContains(t, logs.String(), "s3cret-pw")
}

// BenchmarkCacheHit is the cost a cached Basic login adds to a request: the
// HMAC, the store lookup and the identity.
func BenchmarkCacheHit(b *testing.B) {
	p := &hosttest.Provider{Users: map[string]string{"demo": "s3cret-pw"}}
	auth := &basic.Basic{Realm: "demo", Providers: []core.PasswordProvider{p},
		Cache: &basic.CredentialCache{Store: store.NewMemory(1000), Secret: []byte("0123456789abcdef"), TTL: time.Hour}}
	r, _ := hosttest.NewRequest("GET", "/private/", nil)
	r.Header.Set("Authorization", hosttest.BasicAuth("demo", "s3cret-pw"))
	if id, err := auth.Authenticate(r); err != nil || id == nil {
		b.Fatal("warm-up login failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if id, _ := auth.Authenticate(r); id == nil {
			b.Fatal("no identity")
		}
	}
	if p.Called() != 1 {
		b.Fatalf("provider called %d times", p.Called())
	}
}
