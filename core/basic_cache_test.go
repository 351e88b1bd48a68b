package core

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// brokenStore is an AuthStore whose back end is down.
type brokenStore struct{}

var errStoreDown = errors.New("dial tcp 127.0.0.1:6379: connection refused")

func (brokenStore) CacheGet(context.Context, string) ([]byte, bool, error) {
	return nil, false, errStoreDown
}
func (brokenStore) CachePut(context.Context, string, []byte, time.Duration) error {
	return errStoreDown
}
func (brokenStore) AddFailure(context.Context, string, time.Duration) (int64, error) {
	return 0, errStoreDown
}
func (brokenStore) Failures(context.Context, string) (int64, error) { return 0, errStoreDown }
func (brokenStore) ResetFailures(context.Context, string) error     { return errStoreDown }

// attempt runs the authn phase for a Basic login from addr, logging into
// logs, and returns the status and the response's error headers.
func attempt(b *Basic, user, pass, addr string, logs *bytes.Buffer) (Status, http.Header, *Request) {
	hr := httptest.NewRequest("GET", "/private/x", nil)
	r := &Request{}
	FromHTTP(r, hr)
	r.RemoteAddr = addr
	r.Header.Set("Authorization", basicHeader(user, pass))
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	r.Bind(httptest.NewRecorder(), hr.Context(), &log)
	st := RunPhase(Authn, []Handler{AuthnHandler(b)}, r)
	return st, r.ErrHeader(), r
}

func TestCredentialCache(t *testing.T) {
	var logs bytes.Buffer
	store := NewMemoryStore(100)
	p := &groupProvider{fakeProvider: fakeProvider{users: map[string]string{"demo": "s3cret-pw"}}, groups: map[string][]string{"demo": {"staff"}}}
	cache := &CredentialCache{Store: store, Secret: []byte("0123456789abcdef0123"), TTL: time.Minute, Scope: "demo\x00htpasswd"}
	b := &Basic{Realm: "demo", Providers: []PasswordProvider{p}, Cache: cache}

	st, _, r := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
	require.Equal(t, OK, st)
	assert.Equal(t, []string{"staff"}, r.Identity.Groups)
	assert.Equal(t, 1, p.called())

	st, _, r = attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
	require.Equal(t, OK, st)
	assert.Equal(t, 1, p.called(), "second login is a cache hit: the provider is not asked")
	assert.Equal(t, "demo", r.User)
	assert.Equal(t, "Basic", r.AuthType)
	assert.Equal(t, []string{"staff"}, r.Identity.Groups, "groups come back from the cache")

	// Wrong passwords are never cached and never hit.
	for range 2 {
		st, _, _ = attempt(b, "demo", "wrong", "192.0.2.1:1", &logs)
		assert.Equal(t, Status(http.StatusUnauthorized), st)
	}
	assert.Equal(t, 3, p.called())

	// Another chain (scope) or another secret never hits.
	other := &CredentialCache{Store: store, Secret: cache.Secret, TTL: time.Minute, Scope: "admin\x00ldap"}
	b2 := &Basic{Realm: "admin", Providers: []PasswordProvider{p}, Cache: other}
	attempt(b2, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
	assert.Equal(t, 4, p.called())
	rekeyed := &CredentialCache{Store: store, Secret: []byte("another secret of 16+ bytes"), TTL: time.Minute, Scope: cache.Scope}
	b3 := &Basic{Realm: "demo", Providers: []PasswordProvider{p}, Cache: rekeyed}
	attempt(b3, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
	assert.Equal(t, 5, p.called())

	// What the store holds says neither the user nor the password, and is
	// no plain hash of them: the key is an HMAC under the secret.
	for _, k := range store.cache.Keys() {
		assert.True(t, strings.HasPrefix(k, "cred:"))
		assert.NotContains(t, k, "demo")
		e, _ := store.cache.Peek(k)
		assert.NotContains(t, string(e.value), "s3cret")
	}
	assert.NotContains(t, logs.String(), "s3cret-pw")
}

func TestCredentialCacheStoreDownChecksEveryPassword(t *testing.T) {
	var logs bytes.Buffer
	p := &fakeProvider{users: map[string]string{"demo": "s3cret-pw"}}
	b := &Basic{Realm: "demo", Providers: []PasswordProvider{p},
		Cache: &CredentialCache{Store: brokenStore{}, Secret: []byte("0123456789abcdef"), TTL: time.Minute}}
	for i := 1; i <= 3; i++ {
		st, _, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
		assert.Equal(t, OK, st)
		assert.Equal(t, i, p.called(), "bypassed: every password verified")
	}
	st, _, _ := attempt(b, "demo", "wrong", "192.0.2.1:1", &logs)
	assert.Equal(t, Status(http.StatusUnauthorized), st, "a store that is down never grants")
	assert.Contains(t, logs.String(), "credential cache unavailable")
	assert.NotContains(t, logs.String(), "s3cret-pw")
}

func TestThrottle(t *testing.T) {
	users := map[string]string{"demo": "s3cret-pw", "eve": "eve-pw"}
	newBasic := func(mode ThrottleMode) (*Basic, *fakeProvider) {
		p := &fakeProvider{users: users}
		return &Basic{Realm: "demo", Providers: []PasswordProvider{p}, Throttle: &Throttle{
			Store: NewMemoryStore(100), MaxUser: 3, MaxClient: 5, Window: 90 * time.Second, Mode: mode, Delay: time.Millisecond,
		}}, p
	}
	var logs bytes.Buffer

	t.Run("per user, 429, the password is not checked", func(t *testing.T) {
		b, p := newBasic(ThrottleReject)
		for i := range 3 {
			st, _, _ := attempt(b, "demo", "guess", "192.0.2.1:1", &logs)
			assert.Equal(t, Status(http.StatusUnauthorized), st, "failure %d", i+1)
		}
		// From another address too: the count is per user name.
		st, h, _ := attempt(b, "demo", "s3cret-pw", "198.51.100.9:1", &logs)
		assert.Equal(t, Status(http.StatusTooManyRequests), st)
		assert.Equal(t, "90", h.Get("Retry-After"))
		assert.Empty(t, h.Values("WWW-Authenticate"))
		assert.Equal(t, 3, p.called(), "a throttled attempt never reaches the provider")
		// Another user from the first address is still admitted (3 < 5).
		st, _, _ = attempt(b, "eve", "eve-pw", "192.0.2.1:1", &logs)
		assert.Equal(t, OK, st)
	})

	t.Run("per client address", func(t *testing.T) {
		b, _ := newBasic(ThrottleReject)
		for i := range 5 {
			attempt(b, "user"+string(rune('a'+i)), "x", "192.0.2.7:1", &logs)
		}
		st, _, _ := attempt(b, "eve", "eve-pw", "192.0.2.7:9", &logs)
		assert.Equal(t, Status(http.StatusTooManyRequests), st)
		st, _, _ = attempt(b, "eve", "eve-pw", "192.0.2.8:1", &logs)
		assert.Equal(t, OK, st, "another address is not throttled")
	})

	t.Run("success forgets the user's failures, not the client's", func(t *testing.T) {
		b, _ := newBasic(ThrottleReject)
		attempt(b, "demo", "x", "192.0.2.1:1", &logs)
		attempt(b, "demo", "x", "192.0.2.1:1", &logs)
		st, _, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
		require.Equal(t, OK, st)
		n, _ := b.Throttle.Store.Failures(context.Background(), "fail:u:demo")
		assert.Zero(t, n)
		n, _ = b.Throttle.Store.Failures(context.Background(), "fail:c:192.0.2.1")
		assert.EqualValues(t, 2, n)
	})

	t.Run("403 mode", func(t *testing.T) {
		b, p := newBasic(ThrottleForbid)
		for range 3 {
			attempt(b, "demo", "guess", "192.0.2.1:1", &logs)
		}
		st, h, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
		assert.Equal(t, Status(http.StatusForbidden), st)
		assert.Empty(t, h.Get("Retry-After"))
		assert.Equal(t, 3, p.called())
	})

	t.Run("delay mode checks after the delay", func(t *testing.T) {
		b, p := newBasic(ThrottleDelay)
		for range 3 {
			attempt(b, "demo", "guess", "192.0.2.1:1", &logs)
		}
		var l bytes.Buffer
		st, _, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &l)
		assert.Equal(t, OK, st, "the right password still gets in")
		assert.Equal(t, 4, p.called())
		assert.Contains(t, l.String(), "attempt delayed")
		st, _, _ = attempt(b, "demo", "guess", "192.0.2.1:1", &l)
		assert.Equal(t, Status(http.StatusUnauthorized), st)
	})

	t.Run("X-Forwarded-For only from trusted proxies", func(t *testing.T) {
		b, _ := newBasic(ThrottleReject)
		b.Throttle.MaxUser = 0
		b.Throttle.Trusted, _ = ParseTrustedProxies([]string{"127.0.0.1"})
		login := func(peer, xff, user, pass string) Status {
			hr := httptest.NewRequest("GET", "/private/x", nil)
			r := &Request{}
			FromHTTP(r, hr)
			r.RemoteAddr = peer
			r.Header.Set("X-Forwarded-For", xff)
			r.Header.Set("Authorization", basicHeader(user, pass))
			r.Bind(httptest.NewRecorder(), hr.Context(), nil)
			return RunPhase(Authn, []Handler{AuthnHandler(b)}, r)
		}
		// A client that rotates a forged X-Forwarded-For is still counted
		// by its own address.
		for i := range 5 {
			login("203.0.113.5:1", "10.9.9."+string(rune('0'+i)), "demo", "x")
		}
		assert.Equal(t, Status(http.StatusTooManyRequests), login("203.0.113.5:2", "10.9.9.9", "eve", "eve-pw"))
		// Behind the trusted proxy, clients are told apart by the header.
		for range 5 {
			login("127.0.0.1:1", "198.51.100.1", "demo", "x")
		}
		assert.Equal(t, Status(http.StatusTooManyRequests), login("127.0.0.1:2", "198.51.100.1", "eve", "eve-pw"))
		assert.Equal(t, OK, login("127.0.0.1:3", "198.51.100.2", "eve", "eve-pw"))
	})

	t.Run("store down: closed answers 503, open checks the password", func(t *testing.T) {
		p := &fakeProvider{users: users}
		th := &Throttle{Store: brokenStore{}, MaxUser: 3, MaxClient: 5, Window: time.Minute}
		b := &Basic{Realm: "demo", Providers: []PasswordProvider{p}, Throttle: th}
		var l bytes.Buffer
		st, _, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &l)
		assert.Equal(t, Status(http.StatusServiceUnavailable), st)
		assert.Zero(t, p.called(), "closed: no check, and never a grant")
		assert.Contains(t, l.String(), "fail closed")

		th.FailOpen = true
		st, _, _ = attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &l)
		assert.Equal(t, OK, st)
		st, _, _ = attempt(b, "demo", "wrong", "192.0.2.1:1", &l)
		assert.Equal(t, Status(http.StatusUnauthorized), st)
		assert.Equal(t, 2, p.called())
		assert.NotContains(t, l.String(), "s3cret-pw")
	})
	assert.NotContains(t, logs.String(), "s3cret-pw")
	assert.NotContains(t, logs.String(), "eve-pw")
}

func TestParseThrottleMode(t *testing.T) {
	for s, want := range map[string]ThrottleMode{"429": ThrottleReject, "403": ThrottleForbid, "delay": ThrottleDelay} {
		m, err := ParseThrottleMode(s)
		require.NoError(t, err)
		assert.Equal(t, want, m)
	}
	_, err := ParseThrottleMode("418")
	assert.ErrorContains(t, err, `"418"`)
}

// BenchmarkCacheHit is the cost a cached Basic login adds to a request: the
// HMAC, the store lookup and the identity.
func BenchmarkCacheHit(b *testing.B) {
	p := &fakeProvider{users: map[string]string{"demo": "s3cret-pw"}}
	basic := &Basic{Realm: "demo", Providers: []PasswordProvider{p},
		Cache: &CredentialCache{Store: NewMemoryStore(1000), Secret: []byte("0123456789abcdef"), TTL: time.Hour}}
	r, _ := newReq("GET", "/private/")
	r.Header.Set("Authorization", basicHeader("demo", "s3cret-pw"))
	if id, err := basic.Authenticate(r); err != nil || id == nil {
		b.Fatal("warm-up login failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if id, _ := basic.Authenticate(r); id == nil {
			b.Fatal("no identity")
		}
	}
	if p.called() != 1 {
		b.Fatalf("provider called %d times", p.called())
	}
}
