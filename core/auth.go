package core

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// AuthResult is a password provider's verdict, as Apache's authn providers
// give it.
type AuthResult int

const (
	// Denied: the user exists and the password is wrong. The chain stops.
	Denied AuthResult = iota
	// Granted: the password is right.
	Granted
	// UserNotFound: this provider does not know the user; the next provider
	// in the chain is asked (like `AuthBasicProvider file ldap`).
	UserNotFound
)

func (a AuthResult) String() string {
	switch a {
	case Denied:
		return "denied"
	case Granted:
		return "granted"
	case UserNotFound:
		return "user-not-found"
	}
	return fmt.Sprintf("AuthResult(%d)", int(a))
}

// PasswordProvider checks a user name and password, the counterpart of an
// Apache authn provider. A broken back end (directory down, unreadable file)
// is an error, never Denied or Granted: the host answers 5xx for it.
type PasswordProvider interface {
	CheckPassword(ctx context.Context, user, password string) (AuthResult, error)
}

// GroupLister is the optional ability of a provider to list a user's groups,
// for `require group`.
type GroupLister interface {
	Groups(ctx context.Context, user string) ([]string, error)
}

// Authenticator turns a request's credentials into an identity. It returns
// (nil, nil) when the request carries no credentials it accepts (missing,
// another scheme, malformed, wrong), and an error only when it could not
// decide.
type Authenticator interface {
	Authenticate(r *Request) (*Identity, error)
	// Challenge is the WWW-Authenticate value asking for its credentials.
	Challenge() string
}

// Authorizer decides whether the authenticated request may proceed. An
// error means it could not decide.
type Authorizer interface {
	Authorize(r *Request) (bool, error)
}

// AuthnHandler is the authn phase handler for a list of authenticators
// (Basic, Bearer, ...): the first that returns an identity sets r.User,
// r.AuthType and r.Identity. With none, the answer is 401 carrying every
// authenticator's challenge; an authenticator error is logged and answered
// with 500, and a StatusError with its status (429 for throttling, 503 for
// a state store that is down).
func AuthnHandler(auths ...Authenticator) Handler {
	return HandlerFunc(func(r *Request) Status {
		for _, a := range auths {
			id, err := a.Authenticate(r)
			var se *StatusError
			switch {
			case errors.As(err, &se):
				ev := r.Log().Error()
				if se.Status < 500 {
					ev = r.Log().Info()
				}
				ev.Err(err).Str("uri", r.URI).Int("status", int(se.Status)).Msg("authentication refused")
				for k, v := range se.Header {
					r.ErrHeader()[k] = v
				}
				return se.Status
			case err != nil:
				r.Log().Error().Err(err).Str("uri", r.URI).Msg("authentication back end failed")
				return http.StatusInternalServerError
			}
			if id != nil {
				r.User, r.AuthType, r.Identity = id.User, id.AuthType, id
				return OK
			}
		}
		h := r.ErrHeader()
		for _, a := range auths {
			h.Add("WWW-Authenticate", a.Challenge())
		}
		return http.StatusUnauthorized
	})
}

// Basic is HTTP Basic authentication (RFC 7617) against a chain of password
// providers, with an optional credential cache and failed-attempt throttle.
type Basic struct {
	// Realm is shown by browsers in the login prompt.
	Realm string
	// Providers are asked in order; UserNotFound falls through to the next.
	Providers []PasswordProvider
	// Cache, if set, skips the providers for credentials verified recently.
	Cache *CredentialCache
	// Throttle, if set, counts failures and refuses or slows down guessing.
	Throttle *Throttle
}

// Authenticate implements Authenticator.
func (b *Basic) Authenticate(r *Request) (*Identity, error) {
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
	if b.Cache != nil {
		id, err := b.Cache.lookup(ctx, user, pass)
		if err != nil {
			r.Log().Warn().Err(err).Msg("credential cache unavailable; checking the password")
		} else if id != nil {
			r.Log().Debug().Str("user", user).Msg("credentials found in the cache")
			return id, nil
		}
	}
	id, err := b.check(r, user, pass)
	if err != nil {
		return nil, err
	}
	if id == nil {
		if b.Throttle != nil {
			b.Throttle.failed(r, tc)
		}
		return nil, nil
	}
	if b.Throttle != nil {
		b.Throttle.succeeded(r, tc)
	}
	if b.Cache != nil {
		if err := b.Cache.store(ctx, id, pass); err != nil {
			r.Log().Warn().Err(err).Msg("credential cache unavailable; not cached")
		}
	}
	return id, nil
}

// check asks the chain and logs why a login failed.
func (b *Basic) check(r *Request, user, pass string) (*Identity, error) {
	res, id, err := CheckChain(r.Context(), b.Providers, user, pass)
	switch {
	case err != nil:
		return nil, err
	case res == Denied:
		r.Log().Info().Str("user", user).Str("uri", r.URI).Msg("authentication failure: wrong password")
	case res == UserNotFound:
		r.Log().Info().Str("user", user).Str("uri", r.URI).Msg("authentication failure: user not found")
	}
	return id, nil
}

// CheckChain asks providers in order, as Apache's AuthBasicProvider chains
// them: UserNotFound falls through to the next, Denied and Granted end the
// chain. A grant comes with the identity, groups included when the
// granting provider lists them. Hosts that call providers one by one
// (Apache's authn provider hook) use it as Basic does.
func CheckChain(ctx context.Context, providers []PasswordProvider, user, pass string) (AuthResult, *Identity, error) {
	for i, p := range providers {
		res, err := p.CheckPassword(ctx, user, pass)
		if err != nil {
			return Denied, nil, fmt.Errorf("provider %d of the chain: %w", i+1, err)
		}
		switch res {
		case Granted:
			id := &Identity{User: user, AuthType: "Basic"}
			if gl, ok := p.(GroupLister); ok {
				if id.Groups, err = gl.Groups(ctx, user); err != nil {
					return Denied, nil, fmt.Errorf("groups of provider %d: %w", i+1, err)
				}
			}
			return Granted, id, nil
		case Denied:
			return Denied, nil, nil
		}
	}
	return UserNotFound, nil, nil
}

// Challenge implements Authenticator.
func (b *Basic) Challenge() string {
	return `Basic realm="` + quoteEscaper.Replace(b.Realm) + `"`
}

// ParseBasic extracts credentials from an Authorization header value of the
// Basic scheme (case-insensitive, as RFC 7617 says). A user name with a colon
// or a malformed value gives ok=false.
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
	if !ok || user == "" {
		return "", "", false
	}
	return user, pass, true
}

// Require is one require rule, as Apache writes them: "valid-user",
// "user NAME...", "group NAME...", "claim KEY=VALUE...".
type Require struct {
	Kind   string
	Values []string
}

// ParseRequire parses a rule.
func ParseRequire(rule string) (Require, error) {
	f := strings.Fields(rule)
	if len(f) == 0 {
		return Require{}, fmt.Errorf("empty require rule")
	}
	rq := Require{Kind: f[0], Values: f[1:]}
	switch rq.Kind {
	case "valid-user":
		if len(rq.Values) > 0 {
			return rq, fmt.Errorf("require valid-user takes no arguments")
		}
	case "user", "group":
		if len(rq.Values) == 0 {
			return rq, fmt.Errorf("require %s needs at least one name", rq.Kind)
		}
	case "claim":
		if len(rq.Values) == 0 {
			return rq, fmt.Errorf("require claim needs KEY=VALUE")
		}
		for _, v := range rq.Values {
			if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
				return rq, fmt.Errorf("require claim: %q is not KEY=VALUE", v)
			}
		}
	default:
		return rq, fmt.Errorf("unknown require rule %q (valid-user, user, group, claim)", rq.Kind)
	}
	return rq, nil
}

// Authorize implements Authorizer for one rule.
func (rq Require) Authorize(r *Request) (bool, error) {
	if r.User == "" {
		return false, nil
	}
	switch rq.Kind {
	case "valid-user":
		return true, nil
	case "user":
		return slices.Contains(rq.Values, r.User), nil
	case "group":
		if r.Identity != nil {
			for _, g := range r.Identity.Groups {
				if slices.Contains(rq.Values, g) {
					return true, nil
				}
			}
		}
		return false, nil
	case "claim":
		if r.Identity == nil {
			return false, nil
		}
		for _, kv := range rq.Values {
			k, want, _ := strings.Cut(kv, "=")
			if claimHas(r.Identity.Claims[k], want) {
				return true, nil
			}
		}
	}
	return false, nil
}

func claimHas(v any, want string) bool {
	switch c := v.(type) {
	case string:
		return c == want
	case []string:
		return slices.Contains(c, want)
	case []any:
		for _, e := range c {
			if claimHas(e, want) {
				return true
			}
		}
		return false
	case float64:
		// JSON numbers: 1000000, not fmt's 1e+06.
		return strconv.FormatFloat(c, 'f', -1, 64) == want
	case nil:
		return false
	}
	return fmt.Sprint(v) == want
}

// AuthzHandler is the authz phase handler: the request passes if any
// authorizer grants (Apache's implicit RequireAny). No user is 401; a user
// who is refused gets 403 (Apache's AuthzSendForbiddenOnFailure On: asking
// the same user to log in again cannot help). An authorizer error is 500.
func AuthzHandler(authz ...Authorizer) Handler {
	return HandlerFunc(func(r *Request) Status {
		if r.User == "" {
			return http.StatusUnauthorized
		}
		for _, a := range authz {
			ok, err := a.Authorize(r)
			if err != nil {
				r.Log().Error().Err(err).Str("user", r.User).Msg("authorization back end failed")
				return http.StatusInternalServerError
			}
			if ok {
				return OK
			}
		}
		r.Log().Info().Str("user", r.User).Str("uri", r.URI).Msg("authorization failure")
		return http.StatusForbidden
	})
}

// Interface guards.
var (
	_ Authenticator = (*Basic)(nil)
	_ Authorizer    = Require{}
)
