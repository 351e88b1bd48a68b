// Package basic is HTTP Basic authentication (RFC 7617) against a chain of
// password providers, with a credential cache and a failed-attempt
// throttle (their state in an authn/store back end) and the client address
// the throttle counts by.
package basic

import (
	"encoding/base64"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/core"
)

// Basic is HTTP Basic authentication (RFC 7617) against a chain of password
// providers, with an optional credential cache and failed-attempt throttle.
type Basic struct {
	// Realm is shown by browsers in the login prompt.
	Realm string
	// Providers are asked in order; core.UserNotFound falls through to the next.
	Providers []core.PasswordProvider
	// Names are the providers' registered names, Names[i] for
	// Providers[i]: what their answers are counted by (core.Observer).
	Names []string
	// Cache, if set, skips the providers for credentials verified recently.
	Cache *CredentialCache
	// Throttle, if set, counts failures and refuses or slows down guessing.
	Throttle *Throttle
}

// Authenticate implements core.Authenticator.
func (b *Basic) Authenticate(r *core.Request) (*core.Identity, error) {
	user, pass, ok := ParseBasic(r.Header.Get("Authorization"))
	if !ok {
		return nil, nil
	}
	ctx := r.Context()
	var tc counts
	if b.Throttle != nil {
		tc = b.Throttle.counts(r, user)
		if err := b.Throttle.admit(r, user, tc); err != nil {
			return nil, err
		}
	}
	var c checked
	if b.Cache == nil {
		c = b.check(r, user, pass)
	} else {
		key := b.Cache.key(user, pass)
		id, err := b.Cache.lookup(ctx, key, user)
		switch {
		case err != nil:
			r.Log().Warn().Err(err).Msg("credential cache unavailable; checking the password")
		case id != nil:
			r.Observer().CredentialCache(true)
			r.Log().Debug().Str("user", user).Msg("credentials found in the cache")
			return id, nil
		default:
			r.Observer().CredentialCache(false)
		}
		c = b.checkShared(r, key, user, pass)
	}
	if c.err != nil {
		return nil, c.err
	}
	switch c.res {
	case core.Denied:
		r.Log().Info().Str("user", user).Str("uri", r.URI).Msg("authentication failure: wrong password")
	case core.UserNotFound:
		r.Log().Info().Str("user", user).Str("uri", r.URI).Msg("authentication failure: user not found")
	}
	if c.id == nil {
		if b.Throttle != nil {
			b.Throttle.failed(r, tc)
		}
		return nil, nil
	}
	if b.Throttle != nil {
		b.Throttle.succeeded(r, tc)
	}
	return c.id, nil
}

// checked is the chain's answer to one check.
type checked struct {
	res core.AuthResult
	id  *core.Identity
	err error
	// leaderGone says the request that ran a shared check had lost its
	// client by the end: its context was done, so any answer but Granted
	// may be the context's rather than the chain's.
	leaderGone bool
}

// check asks the chain.
func (b *Basic) check(r *core.Request, user, pass string) checked {
	obs := r.Observer()
	res, id, err := authn.CheckChain(r.Context(), b.Providers, user, pass, func(i int, result string) {
		obs.Auth(providerName(b.Names, i), result)
	})
	return checked{res: res, id: id, err: err}
}

// checkAndCache is check, and a success stored in the cache under key.
func (b *Basic) checkAndCache(r *core.Request, key, user, pass string) checked {
	c := b.check(r, user, pass)
	if c.err == nil && c.id != nil {
		if err := b.Cache.store(r.Context(), key, c.id); err != nil {
			r.Log().Warn().Err(err).Msg("credential cache unavailable; not cached")
		}
	}
	return c
}

// checkShared checks credentials the cache missed and caches a success.
// Concurrent misses of the same credentials (a page's parallel requests
// right after a login) share one check: the others wait for its answer
// instead of paying bcrypt, a bind or a query each. Failures are still
// logged and counted by the throttle per request, by the caller.
//
// The check runs on the goroutine of the request that started it, with
// that request (singleflight's Do, not DoChan, which would run it on a
// goroutine of its own that could outlive the request), so a waiting
// request whose client leaves waits for the check to end.
func (b *Basic) checkShared(r *core.Request, key, user, pass string) checked {
	v, _, shared := b.Cache.flight.Do(key, func() (any, error) {
		c := b.checkAndCache(r, key, user, pass)
		c.leaderGone = r.Context().Err() != nil
		return c, nil
	})
	c := v.(checked)
	if !shared {
		return c
	}
	if c.leaderGone && c.res != core.Granted && r.Context().Err() == nil {
		// The check ran under a request whose client left: an error or a
		// refusal may be its context's, and says nothing of these
		// credentials. Checked again, alone and once.
		return b.checkAndCache(r, key, user, pass)
	}
	if c.id != nil {
		// Each request gets an identity of its own to keep or change.
		id := *c.id
		id.User = user
		id.Groups = slices.Clone(id.Groups)
		id.Claims = maps.Clone(id.Claims)
		c.id = &id
	}
	return c
}

// providerName is the name of the i-th provider of a chain, or its
// position where the chain was built without names.
func providerName(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return "provider-" + strconv.Itoa(i+1)
}

// Challenge implements core.Authenticator.
func (b *Basic) Challenge() string {
	return authn.Challenge("Basic", b.Realm)
}

// ParseBasic extracts credentials from an Authorization header value of the
// Basic scheme (case-insensitive, as RFC 7617 says). A malformed value, or a
// user-id that RFC 7617 calls invalid (empty, or with a control character:
// a NUL or a newline in a name that is logged, matched and looked up), gives
// ok=false. The password is taken as sent.
func ParseBasic(h string) (user, pass string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	enc := strings.TrimSpace(h[len(prefix):])
	// Decoded on the stack for the usual sizes: one allocation, the string.
	var buf [192]byte
	dst := buf[:]
	if n := base64.StdEncoding.DecodedLen(len(enc)); n > len(buf) {
		dst = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(dst, []byte(enc))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(dst[:n]), ":")
	if !ok || user == "" || strings.ContainsFunc(user, isCTL) {
		return "", "", false
	}
	return user, pass, true
}

// isCTL reports an RFC 5234 control character.
func isCTL(r rune) bool { return r < 0x20 || r == 0x7f }

var _ core.Authenticator = (*Basic)(nil)
