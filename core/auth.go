package core

import (
	"context"
	"errors"
	"fmt"
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

// ErrInvalidToken marks a bearer token that was checked and refused
// (bad signature, expired, wrong issuer or audience, malformed). A
// TokenVerifier wraps it with the reason; any other error means the
// verifier could not decide (a JWKS URL that does not answer) and the host
// answers 5xx, never "granted".
var ErrInvalidToken = errors.New("anyhost: invalid token")

// TokenVerifier checks a bearer token (RFC 6750) and returns the identity it
// carries, claims included for `require claim`.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string) (*Identity, error)
}
