package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidToken marks a bearer token that was checked and refused
// (bad signature, expired, wrong issuer or audience, malformed). A
// TokenVerifier wraps it with the reason; any other error means the
// verifier could not decide (a JWKS URL that does not answer) and the host
// answers 5xx, never "granted".
var ErrInvalidToken = errors.New("invalid token")

// TokenVerifier checks a bearer token (RFC 6750) and returns the identity it
// carries, claims included for `require claim`.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string) (*Identity, error)
}

// VerifierFactory builds a token verifier from its options.
type VerifierFactory func(Options) (TokenVerifier, error)

// Verifiers is the registry of token verifier factories (jwt, ...).
var Verifiers = &Registry[VerifierFactory]{kind: "token verifier"}

// RegisterVerifier adds a token verifier factory.
func RegisterVerifier(name, doc string, f VerifierFactory) { Verifiers.Register(name, doc, f) }

// NewVerifier builds the token verifier registered under name.
func NewVerifier(name string, o Options) (TokenVerifier, error) { return build(Verifiers, name, o) }

// Bearer is bearer-token authentication (RFC 6750) against a list of
// verifiers, asked in order until one accepts the token.
type Bearer struct {
	Realm     string
	Verifiers []TokenVerifier
}

// Authenticate implements Authenticator. A refused token is logged with its
// reason (never the token) and yields no identity.
func (b *Bearer) Authenticate(r *Request) (*Identity, error) {
	token, ok := ParseBearer(r.Header.Get("Authorization"))
	if !ok {
		return nil, nil
	}
	// The request's logger rides in the context (zerolog.Ctx) so that a
	// verifier can warn about a degraded back end it still answers from.
	ctx := r.Log().WithContext(r.Context())
	var reasons []string
	for i, v := range b.Verifiers {
		id, err := v.VerifyToken(ctx, token)
		switch {
		case err == nil && id != nil && id.User != "":
			if id.AuthType == "" {
				id.AuthType = "Bearer"
			}
			return id, nil
		case err == nil:
			reasons = append(reasons, "no subject")
		case errors.Is(err, ErrInvalidToken):
			reasons = append(reasons, err.Error())
		default:
			return nil, fmt.Errorf("token verifier %d: %w", i+1, err)
		}
	}
	r.Log().Info().Str("uri", r.URI).Strs("reasons", reasons).Msg("authentication failure: bearer token refused")
	return nil, nil
}

// Challenge implements Authenticator.
func (b *Bearer) Challenge() string {
	return `Bearer realm="` + quoteEscaper.Replace(b.Realm) + `"`
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// ParseBearer extracts the token of an Authorization header value of the
// Bearer scheme (case-insensitive). An empty or space-containing token gives
// ok=false.
func ParseBearer(h string) (token string, ok bool) {
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	token = strings.TrimSpace(h[len(prefix):])
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

var _ Authenticator = (*Bearer)(nil)
