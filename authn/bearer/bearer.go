// Package bearer is bearer-token authentication (RFC 6750) against a list
// of token verifiers (authn/jwt registers one), and their registry.
package bearer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/core"
)

// VerifierFactory builds a token verifier from its options.
type VerifierFactory func(core.Options) (core.TokenVerifier, error)

// Verifiers is the registry of token verifier factories (jwt, ...).
var Verifiers = core.NewRegistry[VerifierFactory]("token verifier")

// RegisterVerifier adds a token verifier factory.
func RegisterVerifier(name, doc string, f VerifierFactory) { Verifiers.Register(name, doc, f) }

// NewVerifier builds the token verifier registered under name.
func NewVerifier(name string, o core.Options) (core.TokenVerifier, error) {
	return core.Build(Verifiers, name, o)
}

// Bearer is bearer-token authentication (RFC 6750) against a list of
// verifiers, asked in order until one accepts the token.
type Bearer struct {
	Realm     string
	Verifiers []core.TokenVerifier
	// Names are the verifiers' registered names, Names[i] for
	// Verifiers[i]: what their answers are counted by (core.Observer).
	Names []string
}

// Authenticate implements core.Authenticator. A refused token is logged with its
// reason (never the token) and yields no identity.
func (b *Bearer) Authenticate(r *core.Request) (*core.Identity, error) {
	token, ok := ParseBearer(r.Header.Get("Authorization"))
	if !ok {
		return nil, nil
	}
	// The request's logger rides in the context (zerolog.Ctx) so that a
	// verifier can warn about a degraded back end it still answers from.
	ctx := r.Log().WithContext(r.Context())
	var reasons []string
	obs := r.Observer()
	for i, v := range b.Verifiers {
		id, err := v.VerifyToken(ctx, token)
		name := "verifier-" + strconv.Itoa(i+1)
		if i < len(b.Names) {
			name = b.Names[i]
		}
		switch {
		case err == nil && id != nil && id.User != "":
			obs.Auth(name, "granted")
			if id.AuthType == "" {
				id.AuthType = "Bearer"
			}
			return id, nil
		case err == nil:
			obs.Auth(name, "denied")
			reasons = append(reasons, "no subject")
		case errors.Is(err, core.ErrInvalidToken):
			obs.Auth(name, "denied")
			reasons = append(reasons, err.Error())
		default:
			obs.Auth(name, "error")
			return nil, fmt.Errorf("token verifier %d: %w", i+1, err)
		}
	}
	r.Log().Info().Str("uri", r.URI).Strs("reasons", reasons).Msg("authentication failure: bearer token refused")
	return nil, nil
}

// Challenge implements core.Authenticator.
func (b *Bearer) Challenge() string {
	return authn.Challenge("Bearer", b.Realm)
}

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

var _ core.Authenticator = (*Bearer)(nil)
