package basic_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

// brokenStore is a store.Store whose back end is down.
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

var _ store.Store = brokenStore{}

// attempt runs the authn phase for a Basic login from addr, logging into
// logs, and returns the status and the response's error headers.
func attempt(b *basic.Basic, user, pass, addr string, logs *bytes.Buffer) (core.Status, http.Header, *core.Request) {
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	r, _ := hosttest.NewRequestLog("GET", "/private/x", nil, &log)
	r.RemoteAddr = addr
	r.Header.Set("Authorization", hosttest.BasicAuth(user, pass))
	st := core.RunPhase(core.Authn, []core.Handler{authn.AuthnHandler(b)}, r)
	return st, r.ErrHeader(), r
}

func TestThrottle(t *testing.T) {
	users := map[string]string{"demo": "s3cret-pw", "eve": "eve-pw"}
	newBasic := func(mode basic.ThrottleMode) (*basic.Basic, *hosttest.Provider) {
		p := &hosttest.Provider{Users: users}
		return &basic.Basic{Realm: "demo", Providers: []core.PasswordProvider{p}, Throttle: &basic.Throttle{
			Store: store.NewMemory(100), MaxUser: 3, MaxClient: 5, Window: 90 * time.Second, Mode: mode, Delay: time.Millisecond,
		}}, p
	}
	var logs bytes.Buffer

	t.Run("per user, 429, the password is not checked", func(t *testing.T) {
		b, p := newBasic(basic.ThrottleReject)
		for i := range 3 {
			st, _, _ := attempt(b, "demo", "guess", "192.0.2.1:1", &logs)
			assert.Equal(t, core.Status(http.StatusUnauthorized), st, "failure %d", i+1)
		}
		// From another address too: the count is per user name.
		st, h, _ := attempt(b, "demo", "s3cret-pw", "198.51.100.9:1", &logs)
		assert.Equal(t, core.Status(http.StatusTooManyRequests), st)
		assert.Equal(t, "90", h.Get("Retry-After"))
		assert.Empty(t, h.Values("WWW-Authenticate"))
		assert.Equal(t, 3, p.Called(), "a throttled attempt never reaches the provider")
		// Another user from the first address is still admitted (3 < 5).
		st, _, _ = attempt(b, "eve", "eve-pw", "192.0.2.1:1", &logs)
		assert.Equal(t, core.OK, st)
	})

	t.Run("per client address", func(t *testing.T) {
		b, _ := newBasic(basic.ThrottleReject)
		for i := range 5 {
			attempt(b, "user"+string(rune('a'+i)), "x", "192.0.2.7:1", &logs)
		}
		st, _, _ := attempt(b, "eve", "eve-pw", "192.0.2.7:9", &logs)
		assert.Equal(t, core.Status(http.StatusTooManyRequests), st)
		st, _, _ = attempt(b, "eve", "eve-pw", "192.0.2.8:1", &logs)
		assert.Equal(t, core.OK, st, "another address is not throttled")
	})

	t.Run("success forgets the user's failures, not the client's", func(t *testing.T) {
		b, _ := newBasic(basic.ThrottleReject)
		attempt(b, "demo", "x", "192.0.2.1:1", &logs)
		attempt(b, "demo", "x", "192.0.2.1:1", &logs)
		st, _, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
		require.Equal(t, core.OK, st)
		n, _ := b.Throttle.Store.Failures(context.Background(), "fail:u:demo")
		assert.Zero(t, n)
		n, _ = b.Throttle.Store.Failures(context.Background(), "fail:c:192.0.2.1")
		assert.EqualValues(t, 2, n)
	})

	t.Run("403 mode", func(t *testing.T) {
		b, p := newBasic(basic.ThrottleForbid)
		for range 3 {
			attempt(b, "demo", "guess", "192.0.2.1:1", &logs)
		}
		st, h, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &logs)
		assert.Equal(t, core.Status(http.StatusForbidden), st)
		assert.Empty(t, h.Get("Retry-After"))
		assert.Equal(t, 3, p.Called())
	})

	t.Run("delay mode checks after the delay", func(t *testing.T) {
		b, p := newBasic(basic.ThrottleDelay)
		for range 3 {
			attempt(b, "demo", "guess", "192.0.2.1:1", &logs)
		}
		var l bytes.Buffer
		st, _, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &l)
		assert.Equal(t, core.OK, st, "the right password still gets in")
		assert.Equal(t, 4, p.Called())
		assert.Contains(t, l.String(), "attempt delayed")
		st, _, _ = attempt(b, "demo", "guess", "192.0.2.1:1", &l)
		assert.Equal(t, core.Status(http.StatusUnauthorized), st)
	})

	t.Run("X-Forwarded-For only from trusted proxies", func(t *testing.T) {
		b, _ := newBasic(basic.ThrottleReject)
		b.Throttle.MaxUser = 0
		b.Throttle.Trusted, _ = basic.ParseTrustedProxies([]string{"127.0.0.1"})
		login := func(peer, xff, user, pass string) core.Status {
			r, _ := hosttest.NewRequest("GET", "/private/x", nil)
			r.RemoteAddr = peer
			r.Header.Set("X-Forwarded-For", xff)
			r.Header.Set("Authorization", hosttest.BasicAuth(user, pass))
			return core.RunPhase(core.Authn, []core.Handler{authn.AuthnHandler(b)}, r)
		}
		// A client that rotates a forged X-Forwarded-For is still counted
		// by its own address.
		for i := range 5 {
			login("203.0.113.5:1", "10.9.9."+string(rune('0'+i)), "demo", "x")
		}
		assert.Equal(t, core.Status(http.StatusTooManyRequests), login("203.0.113.5:2", "10.9.9.9", "eve", "eve-pw"))
		// Behind the trusted proxy, clients are told apart by the header.
		for range 5 {
			login("127.0.0.1:1", "198.51.100.1", "demo", "x")
		}
		assert.Equal(t, core.Status(http.StatusTooManyRequests), login("127.0.0.1:2", "198.51.100.1", "eve", "eve-pw"))
		assert.Equal(t, core.OK, login("127.0.0.1:3", "198.51.100.2", "eve", "eve-pw"))
	})

	t.Run("store down: closed answers 503, open checks the password", func(t *testing.T) {
		p := &hosttest.Provider{Users: users}
		th := &basic.Throttle{Store: brokenStore{}, MaxUser: 3, MaxClient: 5, Window: time.Minute}
		b := &basic.Basic{Realm: "demo", Providers: []core.PasswordProvider{p}, Throttle: th}
		var l bytes.Buffer
		st, _, _ := attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &l)
		assert.Equal(t, core.Status(http.StatusServiceUnavailable), st)
		assert.Zero(t, p.Called(), "closed: no check, and never a grant")
		assert.Contains(t, l.String(), "fail closed")

		th.FailOpen = true
		st, _, _ = attempt(b, "demo", "s3cret-pw", "192.0.2.1:1", &l)
		assert.Equal(t, core.OK, st)
		st, _, _ = attempt(b, "demo", "wrong", "192.0.2.1:1", &l)
		assert.Equal(t, core.Status(http.StatusUnauthorized), st)
		assert.Equal(t, 2, p.Called())
		assert.NotContains(t, l.String(), "s3cret-pw")
	})
	assert.NotContains(t, logs.String(), "s3cret-pw")
	assert.NotContains(t, logs.String(), "eve-pw")
}

func TestParseThrottleMode(t *testing.T) {
	for s, want := range map[string]basic.ThrottleMode{"429": basic.ThrottleReject, "403": basic.ThrottleForbid, "delay": basic.ThrottleDelay} {
		m, err := basic.ParseThrottleMode(s)
		require.NoError(t, err)
		assert.Equal(t, want, m)
	}
	_, err := basic.ParseThrottleMode("418")
	assert.ErrorContains(t, err, `"418"`)
}

// BenchmarkCacheHit is the cost a cached Basic login adds to a request: the
