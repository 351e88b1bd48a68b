// Package redisstore keeps the credential cache and failed-attempt throttle
// of a site in Redis, so that several anyhost hosts behind a load balancer
// cache and throttle together: a password verified on one is a cache hit on
// the others, and failures counted on one count on all.
//
// Use it from the site file:
//
//	[auth]
//	store = { name = "redis", options = { url = "redis://127.0.0.1:6379/0" } }
//
// A URL carrying a password must be a file: or env: reference. When Redis
// cannot be reached, the core bypasses the cache (every password is checked
// again) and the throttle fails closed (503) unless on_store_error = "open".
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/core"
)

func init() {
	store.Register("redis", "cache and throttle state in Redis, shared by several hosts (options url, prefix, timeout)", New)
}

// Store is a store.Store in Redis. Keys are prefixed (default
// "anyhost:") so that one Redis can serve other programs too.
type Store struct {
	client *redis.Client
	prefix string
}

// New builds a store from options: url (redis:// or rediss://, required;
// a file: or env: reference when it holds a password), prefix, timeout
// (dial, read and write, default 1s: an auth check must not hang on a Redis
// that is gone).
func New(o core.Options) (store.Store, error) {
	if err := o.Check("url", "prefix", "timeout"); err != nil {
		return nil, err
	}
	raw, err := o.Required("url")
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(raw, "file:") || strings.HasPrefix(raw, "env:") {
		if raw, err = o.Secret("url"); err != nil {
			return nil, err
		}
	} else if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, hasPass := u.User.Password(); hasPass {
			return nil, fmt.Errorf("option url holds a password: give it as file:PATH or env:NAME")
		}
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		// The parser's message may quote the URL; never repeat a secret.
		return nil, fmt.Errorf("option url is not a redis:// or rediss:// URL")
	}
	timeout, err := o.Duration("timeout", time.Second)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
	// One immediate retry covers a pooled connection that a Redis restart
	// broke; more, or a backoff, would only hold every login longer while
	// Redis is down.
	opt.MaxRetries = 1
	opt.MinRetryBackoff, opt.MaxRetryBackoff = -1, -1
	// go-redis dials up to 5 times, 100ms apart, by default: half a second
	// added to every login while Redis is down.
	opt.DialerRetries = 1
	opt.DialerRetryBackoff = func(int) time.Duration { return 0 }
	return &Store{client: redis.NewClient(opt), prefix: o.String("prefix", "anyhost:")}, nil
}

// Close releases the connection pool.
func (s *Store) Close() error { return s.client.Close() }

// CacheGet implements store.Store.
func (s *Store) CacheGet(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis: %w", err)
	}
	return v, true, nil
}

// CachePut implements store.Store.
func (s *Store) CachePut(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.client.Set(ctx, s.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// AddFailure implements store.Store: INCR and PEXPIRE in one
// transaction, so the count and its window move together.
func (s *Store) AddFailure(ctx context.Context, key string, window time.Duration) (int64, error) {
	var incr *redis.IntCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, s.prefix+key)
		p.PExpire(ctx, s.prefix+key, window)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redis: %w", err)
	}
	return incr.Val(), nil
}

// Failures implements store.Store.
func (s *Store) Failures(ctx context.Context, key string) (int64, error) {
	v, err := s.client.Get(ctx, s.prefix+key).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redis: %w", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis: failure count %s is not a number", key)
	}
	return n, nil
}

// ResetFailures implements store.Store.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

var _ store.Store = (*Store)(nil)
