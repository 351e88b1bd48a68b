package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
)

func TestMemoryCache(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(2)
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }

	require.NoError(t, m.CachePut(ctx, "a", []byte("A"), time.Minute))
	v, ok, err := m.CacheGet(ctx, "a")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "A", string(v))

	now = now.Add(time.Minute)
	_, ok, _ = m.CacheGet(ctx, "a")
	assert.False(t, ok, "expired at TTL")

	// Size-bounded: the least recently used entry goes first.
	for i := range 3 {
		require.NoError(t, m.CachePut(ctx, fmt.Sprint(i), []byte{byte(i)}, time.Hour))
	}
	_, ok, _ = m.CacheGet(ctx, "0")
	assert.False(t, ok, "evicted")
	_, ok, _ = m.CacheGet(ctx, "2")
	assert.True(t, ok)
}

func TestMemoryFailures(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(100)
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }

	for want := int64(1); want <= 3; want++ {
		n, err := m.AddFailure(ctx, "u", time.Minute)
		require.NoError(t, err)
		assert.Equal(t, want, n)
		now = now.Add(50 * time.Second) // each failure extends the window
	}
	n, _ := m.Failures(ctx, "u")
	assert.EqualValues(t, 3, n)
	now = now.Add(11 * time.Second)
	n, _ = m.Failures(ctx, "u")
	assert.EqualValues(t, 0, n, "forgotten a window after the last failure")
	n, _ = m.AddFailure(ctx, "u", time.Minute)
	assert.EqualValues(t, 1, n, "a new window starts at 1")
	require.NoError(t, m.ResetFailures(ctx, "u"))
	n, _ = m.Failures(ctx, "u")
	assert.EqualValues(t, 0, n)
}

func TestNew(t *testing.T) {
	s, err := New("memory", core.Options{Values: map[string]string{"max_entries": "10"}})
	require.NoError(t, err)
	assert.IsType(t, &Memory{}, s)
	_, err = New("memory", core.Options{Values: map[string]string{"max_entries": "0"}})
	assert.ErrorContains(t, err, "max_entries must be positive")
	_, err = New("memory", core.Options{Values: map[string]string{"size": "1"}})
	assert.ErrorContains(t, err, "size")
	_, err = New("memcache", core.Options{})
	assert.ErrorContains(t, err, `unknown auth store "memcache"`)
}
