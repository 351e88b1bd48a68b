package core

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// AuthStore keeps the state of a site's credential cache and failed-attempt
// throttle: in this process ("memory", the default) or in a server that
// several hosts share ("redis"), so that N hosts behind a load balancer
// throttle and cache together.
type AuthStore interface {
	// CacheGet returns the value stored under key, if it has not expired.
	CacheGet(ctx context.Context, key string) (value []byte, ok bool, err error)
	// CachePut stores value under key for ttl.
	CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// AddFailure counts one failure under key and returns the count. The
	// count is forgotten window after the last failure.
	AddFailure(ctx context.Context, key string, window time.Duration) (int64, error)
	// Failures returns the current count under key.
	Failures(ctx context.Context, key string) (int64, error)
	// ResetFailures forgets the count under key.
	ResetFailures(ctx context.Context, key string) error
}

// AuthStoreFactory builds a store from its options.
type AuthStoreFactory func(Options) (AuthStore, error)

// AuthStores is the registry of auth state stores; "memory" is built in.
var AuthStores = &Registry[AuthStoreFactory]{kind: "auth store"}

func init() {
	RegisterAuthStore("memory", "state in this process, size-bounded (option max_entries, default 100000)", newMemoryStoreFromOptions)
}

// RegisterAuthStore adds an auth state store factory.
func RegisterAuthStore(name, doc string, f AuthStoreFactory) { AuthStores.Register(name, doc, f) }

// NewAuthStore builds the store registered under name.
func NewAuthStore(name string, o Options) (AuthStore, error) { return build(AuthStores, name, o) }

func newMemoryStoreFromOptions(o Options) (AuthStore, error) {
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
	return NewMemoryStore(n), nil
}

// MemoryStore is the in-process AuthStore: two LRU maps (cache entries and
// failure counters) of at most maxEntries each, so a flood of made-up user
// names cannot grow memory without bound; the least recently used entry
// goes first.
type MemoryStore struct {
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

// NewMemoryStore makes a MemoryStore holding at most maxEntries cache
// entries and maxEntries failure counters.
func NewMemoryStore(maxEntries int) *MemoryStore {
	c, _ := simplelru.NewLRU[string, memEntry](maxEntries, nil)
	f, _ := simplelru.NewLRU[string, memEntry](maxEntries, nil)
	return &MemoryStore{cache: c, failures: f, now: time.Now}
}

// CacheGet implements AuthStore.
func (m *MemoryStore) CacheGet(_ context.Context, key string) ([]byte, bool, error) {
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

// CachePut implements AuthStore.
func (m *MemoryStore) CachePut(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cache.Add(key, memEntry{value: value, expires: m.now().Add(ttl)})
	return nil
}

// AddFailure implements AuthStore.
func (m *MemoryStore) AddFailure(_ context.Context, key string, window time.Duration) (int64, error) {
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

// Failures implements AuthStore.
func (m *MemoryStore) Failures(_ context.Context, key string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.failures.Peek(key)
	if !ok || !m.now().Before(e.expires) {
		return 0, nil
	}
	return e.count, nil
}

// ResetFailures implements AuthStore.
func (m *MemoryStore) ResetFailures(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures.Remove(key)
	return nil
}

var _ AuthStore = (*MemoryStore)(nil)
