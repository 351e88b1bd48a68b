// Package store keeps the state of Basic auth's credential cache and
// failed-attempt throttle: in this process ("memory", the default) or in a
// server several hosts share (authn/redisstore registers "redis"), so that
// N hosts behind a load balancer cache and throttle together.
package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/anyhost/anyhost/core"
)

// Cache holds the credential cache's entries.
type Cache interface {
	// CacheGet returns the value stored under key, if it has not expired.
	CacheGet(ctx context.Context, key string) (value []byte, ok bool, err error)
	// CachePut stores value under key for ttl.
	CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// FailureCounter holds the throttle's counts of failed logins.
type FailureCounter interface {
	// AddFailure counts one failure under key and returns the count. The
	// count is forgotten window after the last failure.
	AddFailure(ctx context.Context, key string, window time.Duration) (int64, error)
	// Failures returns the current count under key.
	Failures(ctx context.Context, key string) (int64, error)
	// ResetFailures forgets the count under key.
	ResetFailures(ctx context.Context, key string) error
}

// Store is what a registered back end gives: both, over one connection
// pool (the site file names one store for its cache and throttle).
type Store interface {
	Cache
	FailureCounter
}

// Factory builds a store from its options.
type Factory func(core.Options) (Store, error)

// Stores is the registry of store back ends; "memory" is built in.
var Stores = core.NewRegistry[Factory]("auth store")

func init() {
	Register("memory", "state in this process, size-bounded (option max_entries, default 100000)", newMemoryFromOptions)
}

// Register adds a store factory.
func Register(name, doc string, f Factory) { Stores.Register(name, doc, f) }

// New builds the store registered under name.
func New(name string, o core.Options) (Store, error) { return core.Build(Stores, name, o) }

func newMemoryFromOptions(o core.Options) (Store, error) {
	if err := o.Check("max_entries"); err != nil {
		return nil, err
	}
	n, err := o.Int("max_entries", 100000)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, fmt.Errorf("max_entries must be positive")
	}
	return NewMemory(n), nil
}

// Memory is the in-process Store: two LRU maps (cache entries and
// failure counters) of at most maxEntries each, so a flood of made-up user
// names cannot grow memory without bound; the least recently used entry
// goes first.
type Memory struct {
	mu       sync.Mutex
	cache    *simplelru.LRU[string, memEntry]
	failures *simplelru.LRU[string, memEntry]
	now      func() time.Time
}

type memEntry struct {
	value   []byte
	count   int64
	expires time.Time
}

// NewMemory makes a Memory holding at most maxEntries cache
// entries and maxEntries failure counters.
func NewMemory(maxEntries int) *Memory {
	c, _ := simplelru.NewLRU[string, memEntry](maxEntries, nil)
	f, _ := simplelru.NewLRU[string, memEntry](maxEntries, nil)
	return &Memory{cache: c, failures: f, now: time.Now}
}

// CacheGet implements Store.
func (m *Memory) CacheGet(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.cache.Get(key)
	if !ok {
		return nil, false, nil
	}
	if !m.now().Before(e.expires) {
		m.cache.Remove(key)
		return nil, false, nil
	}
	return e.value, true, nil
}

// CachePut implements Store.
func (m *Memory) CachePut(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cache.Add(key, memEntry{value: value, expires: m.now().Add(ttl)})
	return nil
}

// AddFailure implements Store.
func (m *Memory) AddFailure(_ context.Context, key string, window time.Duration) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.failures.Get(key)
	if !ok || !now.Before(e.expires) {
		e = memEntry{}
	}
	e.count++
	e.expires = now.Add(window)
	m.failures.Add(key, e)
	return e.count, nil
}

// Failures implements Store.
func (m *Memory) Failures(_ context.Context, key string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.failures.Peek(key)
	if !ok || !m.now().Before(e.expires) {
		return 0, nil
	}
	return e.count, nil
}

// ResetFailures implements Store.
func (m *Memory) ResetFailures(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures.Remove(key)
	return nil
}

var _ Store = (*Memory)(nil)
