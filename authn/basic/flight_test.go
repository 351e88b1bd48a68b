package basic_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

// gatedProvider answers a check only once its gate is open (or its context
// is done), so a test can have many requests waiting on one check.
type gatedProvider struct {
	password string
	gate     chan struct{}
	calls    atomic.Int64
	// deniesWhenDone: a done context gets Denied and no error, as a
	// provider that does not check its context might answer.
	deniesWhenDone bool
}

func (p *gatedProvider) CheckPassword(ctx context.Context, user, password string) (core.AuthResult, error) {
	p.calls.Add(1)
	select {
	case <-p.gate:
	case <-ctx.Done():
		if p.deniesWhenDone {
			return core.Denied, nil
		}
		return core.Denied, ctx.Err()
	}
	if password != p.password {
		return core.Denied, nil
	}
	return core.Granted, nil
}

func (p *gatedProvider) Groups(context.Context, string) ([]string, error) {
	return []string{"staff"}, nil
}

// login runs the authn phase of a Basic login under ctx.
func login(ctx context.Context, b *basic.Basic, user, pass string, logs *hosttest.LogBuffer) (core.Status, *core.Request) {
	log := zerolog.New(logs)
	r, w := hosttest.NewRequestLog("GET", "/private/x", nil, &log)
	host.Bind(r, w, ctx, &log)
	r.Header.Set("Authorization", hosttest.BasicAuth(user, pass))
	return core.RunPhase(core.Authn, []core.Handler{authn.AuthnHandler(b)}, r), r
}

// inFlight counts the goroutines inside a single-flight call: the one
// running the check and those waiting for its answer.
func inFlight() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "singleflight.(*Group).Do(")
}

func newFlightBasic(p *gatedProvider, maxUser int64) *basic.Basic {
	return &basic.Basic{Realm: "demo", Providers: []core.PasswordProvider{p},
		Cache:    &basic.CredentialCache{Store: store.NewMemory(100), Secret: []byte("0123456789abcdef0123"), TTL: time.Minute, Scope: "demo"},
		Throttle: &basic.Throttle{Store: store.NewMemory(100), MaxUser: maxUser, Window: time.Minute}}
}

// A page's parallel requests right after a login miss the cache together:
// one check answers them all, right password or wrong, and each request
// still gets its own identity, log line and throttle count.
func TestConcurrentMissesShareOneCheck(t *testing.T) {
	const n = 8
	p := &gatedProvider{password: "s3cret-pw", gate: make(chan struct{})}
	b := newFlightBasic(p, n)
	var logs hosttest.LogBuffer
	run := func(pass string) ([n]core.Status, [n]*core.Request) {
		var sts [n]core.Status
		var rs [n]*core.Request
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sts[i], rs[i] = login(context.Background(), b, "demo", pass, &logs)
			}()
		}
		require.Eventually(t, func() bool { return inFlight() == n }, 10*time.Second, time.Millisecond, "every request waits on the check")
		close(p.gate)
		wg.Wait()
		return sts, rs
	}

	sts, rs := run("s3cret-pw")
	assert.Equal(t, int64(1), p.calls.Load(), "one check for all")
	for i := range n {
		require.Equal(t, core.OK, sts[i])
		assert.Equal(t, "demo", rs[i].User)
		assert.Equal(t, []string{"staff"}, rs[i].Identity.Groups)
	}
	rs[0].Identity.Groups[0] = "changed by one handler"
	for i := 1; i < n; i++ {
		assert.NotSame(t, rs[0].Identity, rs[i].Identity)
		assert.Equal(t, []string{"staff"}, rs[i].Identity.Groups, "request %d has groups of its own", i)
	}
	st, _ := login(context.Background(), b, "demo", "s3cret-pw", &logs)
	assert.Equal(t, core.OK, st)
	assert.Equal(t, int64(1), p.calls.Load(), "the shared check was cached")

	p.gate = make(chan struct{})
	sts, _ = run("wrong")
	assert.Equal(t, int64(2), p.calls.Load(), "one check for all the wrong passwords")
	for i := range n {
		assert.Equal(t, core.Status(http.StatusUnauthorized), sts[i])
	}
	assert.Equal(t, n, strings.Count(logs.String(), "authentication failure: wrong password"), "each failure is logged")
	st, _ = login(context.Background(), b, "demo", "wrong", &logs)
	assert.Equal(t, core.Status(http.StatusTooManyRequests), st, "each failure counts toward the throttle's %d", n)
}

// A check runs under the request that started it. When that request's
// client leaves, the check fails with its context (an error, or a refusal
// from a provider that does not look at it); the requests waiting on it
// check again instead of taking that answer for theirs.
func TestSharedCheckOutlivesItsLeader(t *testing.T) {
	for _, denies := range []bool{false, true} {
		t.Run(map[bool]string{false: "error", true: "denied"}[denies], func(t *testing.T) {
			p := &gatedProvider{password: "s3cret-pw", gate: make(chan struct{}), deniesWhenDone: denies}
			b := newFlightBasic(p, 0)
			var logs hosttest.LogBuffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			leader := make(chan core.Status, 1)
			go func() {
				st, _ := login(ctx, b, "demo", "s3cret-pw", &logs)
				leader <- st
			}()
			require.Eventually(t, func() bool { return p.calls.Load() == 1 }, 10*time.Second, time.Millisecond)

			const followers = 4
			var wg sync.WaitGroup
			var sts [followers]core.Status
			for i := range followers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sts[i], _ = login(context.Background(), b, "demo", "s3cret-pw", &logs)
				}()
			}
			require.Eventually(t, func() bool { return inFlight() == 1+followers }, 10*time.Second, time.Millisecond)
			cancel()
			want := core.Status(http.StatusInternalServerError)
			if denies {
				want = http.StatusUnauthorized
			}
			assert.Equal(t, want, <-leader, "the leader's own check failed")
			require.Eventually(t, func() bool { return p.calls.Load() == 1+followers }, 10*time.Second, time.Millisecond, "each follower checks again")
			close(p.gate)
			wg.Wait()
			for i := range followers {
				assert.Equal(t, core.OK, sts[i], "follower %d", i)
			}
			assert.Equal(t, int64(1+followers), p.calls.Load())
		})
	}
}
