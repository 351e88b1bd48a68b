// Package authn holds the auth phase handlers every host runs: the authn
// handler over a list of authenticators (basic, bearer), the authz handler
// over require rules, and the provider chain Apache's AuthBasicProvider
// describes. The interfaces they use (core.Authenticator,
// core.PasswordProvider, core.Authorizer, core.TokenVerifier) stay in core,
// where handlers and providers see them; the implementations live here and
// in the folders below: basic/ (with its credential cache, throttle and
// client address), bearer/, store/ (cache and failure-count state), and one
// folder per provider.
package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/anyhost/anyhost/core"
)

// AuthnHandler is the authn phase handler for a list of authenticators
// (Basic, Bearer, ...): the first that returns an identity sets r.User,
// r.AuthType and r.Identity. With none, the answer is 401 carrying every
// authenticator's challenge; an authenticator error is logged and answered
// with 500, and a StatusError with its status (429 for throttling, 503 for
// a state store that is down). A user the web server authenticated
// (Identity.ByWebServer) passes without a check.
func AuthnHandler(auths ...core.Authenticator) core.Handler {
	return core.HandlerFunc(func(r *core.Request) core.Status {
		if id := r.Identity; id != nil && id.ByWebServer && id.User == r.User && r.User != "" {
			// The web server authenticated the request before any phase
			// ran (a CGI program's REMOTE_USER). As Apache's check_user_id
			// stops at the first module that says who, the phase is done;
			// authz still decides.
			return core.OK
		}
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
				return core.OK
			}
		}
		h := r.ErrHeader()
		for _, a := range auths {
			h.Add("WWW-Authenticate", a.Challenge())
		}
		return http.StatusUnauthorized
	})
}

// StatusError is an authenticator's answer that is neither an identity nor
// a plain refusal: too many failures, a state store that is down. The authn
// handler answers with Status and adds Header to the error headers.
type StatusError struct {
	Status core.Status
	Header http.Header
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// CheckChain asks providers in order, as Apache's AuthBasicProvider chains
// them: UserNotFound falls through to the next, Denied and Granted end the
// chain. A grant comes with the identity, groups included when the
// granting provider lists them. Hosts that call providers one by one
// (Apache's authn provider hook) use it as Basic does. answered, if not
// nil, is told each provider's answer by its index (for metrics).
func CheckChain(ctx context.Context, providers []core.PasswordProvider, user, pass string, answered func(i int, result string)) (core.AuthResult, *core.Identity, error) {
	tell := func(i int, result string) {
		if answered != nil {
			answered(i, result)
		}
	}
	for i, p := range providers {
		res, err := p.CheckPassword(ctx, user, pass)
		if err != nil {
			tell(i, "error")
			return core.Denied, nil, fmt.Errorf("provider %d of the chain: %w", i+1, err)
		}
		switch res {
		case core.Granted:
			id := &core.Identity{User: user, AuthType: "Basic"}
			if gl, ok := p.(core.GroupLister); ok {
				if id.Groups, err = gl.Groups(ctx, user); err != nil {
					tell(i, "error")
					return core.Denied, nil, fmt.Errorf("groups of provider %d: %w", i+1, err)
				}
			}
			tell(i, "granted")
			return core.Granted, id, nil
		case core.Denied:
			tell(i, "denied")
			return core.Denied, nil, nil
		}
		tell(i, "not_found")
	}
	return core.UserNotFound, nil, nil
}

// AuthzHandler is the authz phase handler: the request passes if any
// authorizer grants (Apache's implicit RequireAny). No user is 401; a user
// who is refused gets 403 (Apache's AuthzSendForbiddenOnFailure On: asking
// the same user to log in again cannot help). An authorizer error is 500.
func AuthzHandler(authz ...core.Authorizer) core.Handler {
	return core.HandlerFunc(func(r *core.Request) core.Status {
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
				return core.OK
			}
		}
		r.Log().Info().Str("user", r.User).Str("uri", r.URI).Msg("authorization failure")
		return http.StatusForbidden
	})
}

// Challenge is a WWW-Authenticate value for scheme with realm quoted.
func Challenge(scheme, realm string) string {
	return scheme + ` realm="` + quoteEscaper.Replace(realm) + `"`
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
