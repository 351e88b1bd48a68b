package basic

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/core"
)

// CredentialCache remembers verified Basic credentials for a while, so that
// an expensive check (bcrypt, an LDAP bind, a database query) is not paid on
// every request, like Apache's mod_authn_socache.
//
// Entries are keyed on an HMAC of scope, user and password under a secret:
// whoever reads the store (a Redis dump, a core file) holds no password
// hash that could be cracked offline without the secret. Only successes are
// cached; a changed password takes effect when the entry expires.
type CredentialCache struct {
	Store store.Cache
	// Secret keys the HMAC. Hosts that share a store must share it.
	Secret []byte
	// TTL bounds how long a verified credential is trusted without a check.
	TTL time.Duration
	// Scope separates chains: a credential verified against one chain of
	// providers is never a hit for another.
	Scope string

	macs   sync.Pool // of *macState keyed with Secret
	flight singleflight.Group
}

// macState is a keyed HMAC and a buffer for its input, reused across
// requests: hmac.New and the []byte conversions are not free.
type macState struct {
	mac hash.Hash
	buf []byte
}

func (c *CredentialCache) key(user, password string) string {
	st, _ := c.macs.Get().(*macState)
	if st == nil {
		st = &macState{mac: hmac.New(sha256.New, c.Secret)}
	}
	st.mac.Reset()
	// Lengths first: no user and password can be another pair's, whatever
	// bytes they hold.
	st.buf = binary.AppendUvarint(st.buf[:0], uint64(len(c.Scope)))
	st.buf = append(st.buf, c.Scope...)
	st.buf = binary.AppendUvarint(st.buf, uint64(len(user)))
	st.buf = append(append(st.buf, user...), password...)
	st.mac.Write(st.buf)
	var sum [sha256.Size]byte
	st.mac.Sum(sum[:0])
	clear(st.buf) // the password does not linger in the pool
	c.macs.Put(st)
	const prefix = "cred:"
	var key [len(prefix) + 2*sha256.Size]byte
	copy(key[:], prefix)
	hex.Encode(key[len(prefix):], sum[:])
	return string(key[:])
}

// cached is what a cache entry holds: what Basic would set besides the user.
type cached struct {
	Groups []string `json:"g,omitempty"`
}

// lookup returns the identity cached under key (c.key of user and the
// password). A store error is returned so that the caller can log it and
// check the password instead.
func (c *CredentialCache) lookup(ctx context.Context, key, user string) (*core.Identity, error) {
	v, ok, err := c.Store.CacheGet(ctx, key)
	if err != nil || !ok {
		return nil, err
	}
	var e cached
	if string(v) == "{}" {
		// No groups: the common case needs no decoding.
	} else if err := json.Unmarshal(v, &e); err != nil {
		// Not ours or corrupt: treat as a miss.
		return nil, nil
	}
	return &core.Identity{User: user, AuthType: "Basic", Groups: e.Groups}, nil
}

func (c *CredentialCache) store(ctx context.Context, key string, id *core.Identity) error {
	v, err := json.Marshal(cached{Groups: id.Groups})
	if err != nil {
		return err
	}
	return c.Store.CachePut(ctx, key, v, c.TTL)
}
