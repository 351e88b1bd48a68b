package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/redisstore"
	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

func newStore(t *testing.T, values map[string]string) store.Store {
	t.Helper()
	s, err := redisstore.New(core.Options{Values: values, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { s.(*redisstore.Store).Close() })
	return s
}

func TestOptions(t *testing.T) {
	_, err := redisstore.New(core.Options{Values: map[string]string{}})
	assert.ErrorContains(t, err, "url")
	_, err = redisstore.New(core.Options{Values: map[string]string{"url": "redis://:hunter2@127.0.0.1:6379/0"}})
	assert.ErrorContains(t, err, "give it as file:PATH or env:NAME")
	_, err = redisstore.New(core.Options{Values: map[string]string{"url": "http://127.0.0.1/"}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "127.0.0.1", "the URL is not repeated: it may hold a secret")
	_, err = redisstore.New(core.Options{Values: map[string]string{"url": "redis://127.0.0.1:1/0", "pool": "3"}})
	assert.ErrorContains(t, err, "pool")
	t.Setenv("ANYHOST_TEST_REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
	_, err = redisstore.New(core.Options{Values: map[string]string{"url": "env:ANYHOST_TEST_REDIS_URL"}})
	assert.NoError(t, err, "a password in a reference is fine")
}

func TestStoreAgainstRedis(t *testing.T) {
	r := testhost.StartRedis(t)
	ctx := context.Background()
	s := newStore(t, map[string]string{"url": r.URL, "prefix": "t1:"})
	raw := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer raw.Close()

	_, ok, err := s.CacheGet(ctx, "cred:k")
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, s.CachePut(ctx, "cred:k", []byte(`{"g":["staff"]}`), time.Minute))
	v, ok, err := s.CacheGet(ctx, "cred:k")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, `{"g":["staff"]}`, string(v))
	ttl := raw.PTTL(ctx, "t1:cred:k").Val()
	assert.True(t, ttl > 0 && ttl <= time.Minute, "the entry expires with its TTL: %v", ttl)

	for want := int64(1); want <= 3; want++ {
		n, err := s.AddFailure(ctx, "fail:u:demo", 2*time.Minute)
		require.NoError(t, err)
		assert.Equal(t, want, n)
	}
	n, err := s.Failures(ctx, "fail:u:demo")
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	ttl = raw.PTTL(ctx, "t1:fail:u:demo").Val()
	assert.True(t, ttl > time.Minute && ttl <= 2*time.Minute, "the count is forgotten a window after the last failure: %v", ttl)
	require.NoError(t, s.ResetFailures(ctx, "fail:u:demo"))
	n, err = s.Failures(ctx, "fail:u:demo")
	require.NoError(t, err)
	assert.Zero(t, n)

	// Prefixes keep stores apart.
	other := newStore(t, map[string]string{"url": r.URL, "prefix": "t2:"})
	_, ok, err = other.CacheGet(ctx, "cred:k")
	require.NoError(t, err)
	assert.False(t, ok)

	// Redis down: every operation is an error (never a miss that reads as
	// "no failures"), and it comes back by itself.
	r.Stop()
	_, _, err = s.CacheGet(ctx, "cred:k")
	assert.Error(t, err)
	assert.Error(t, s.CachePut(ctx, "cred:k", []byte("x"), time.Minute))
	_, err = s.Failures(ctx, "fail:u:demo")
	assert.Error(t, err)
	_, err = s.AddFailure(ctx, "fail:u:demo", time.Minute)
	assert.Error(t, err)
	r.Start(t)
	_, err = s.AddFailure(ctx, "fail:u:demo", time.Minute)
	assert.NoError(t, err)
}
