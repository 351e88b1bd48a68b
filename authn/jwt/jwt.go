// Package jwt verifies JSON Web Tokens (RFC 7519) given as bearer tokens:
// HS256/384/512 with a shared secret, RS*/PS*, ES256/384/512 and EdDSA with a
// PEM public key or a JSON Web Key Set from a file or URL. It checks the
// signature, expiry and not-before (with leeway for clock skew), issuer and
// audience, and hands the token's claims to `require claim`.
//
// Parsing and signature checks are golang-jwt/jwt/v5's; key sets are parsed
// with go-jose. This package only decides which key may check which token.
package jwt

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/anyhost/anyhost/authn/bearer"
	"github.com/anyhost/anyhost/core"
)

func init() {
	bearer.RegisterVerifier("jwt", "JSON Web Tokens, HMAC/RSA/ECDSA/EdDSA (options key or jwks, algorithms, issuer, audience, leeway, user_claim, require_exp, jwks_refresh, timeout)", New)
}

// Defaults of the options.
const (
	defaultLeeway    = 60 * time.Second
	defaultRefresh   = 10 * time.Minute
	defaultTimeout   = 5 * time.Second
	defaultUserClaim = "sub"
)

// Verifier checks tokens against one key or key set. It is safe for
// concurrent use.
type Verifier struct {
	static    *key  // the key option's key, or nil
	set       *jwks // the jwks option's set, or nil
	algs      []string
	parser    *jwtlib.Parser
	userClaim string
}

// New builds a verifier from options:
//
//   - key: a secret reference (file:PATH or env:NAME) holding an HMAC
//     secret (its bytes; at least as long as the hash, 32 bytes for HS256)
//     or a PEM public key (RSA, ECDSA, Ed25519; PKIX, PKCS #1 or a
//     certificate). Exactly one of key and jwks.
//   - jwks: a JSON Web Key Set file (relative to the site file) or an http(s)
//     URL. Tokens pick their key by kid; an unknown kid refetches the set
//     (at most once per 30s).
//   - algorithms: comma-separated list of accepted algorithms. Default: the
//     key's own (HS256, RS256, ES256/384/512 by curve, EdDSA); with jwks, all
//     of them, each key still checking only its own family.
//   - issuer, audience: required iss, and aud (comma-separated: any one).
//     Unset: not checked.
//   - leeway: clock skew allowed on exp, nbf and iat (default 60s).
//   - user_claim: the claim naming the user (default "sub").
//   - require_exp: refuse tokens without exp (default true).
//   - jwks_refresh: age after which the set is fetched again (default 10m).
//   - timeout: bound on one JWKS fetch (default 5s).
func New(o core.Options) (core.TokenVerifier, error) {
	if err := o.Check("key", "jwks", "algorithms", "issuer", "audience", "leeway", "user_claim", "require_exp", "jwks_refresh", "timeout"); err != nil {
		return nil, err
	}
	_, hasKey := o.Values["key"]
	_, hasSet := o.Values["jwks"]
	if hasKey == hasSet {
		return nil, errors.New("give exactly one of the options key (file:PATH or env:NAME) and jwks (a file or URL)")
	}
	v := &Verifier{userClaim: o.String("user_claim", defaultUserClaim)}
	if v.userClaim == "" {
		return nil, errors.New("option user_claim: empty")
	}
	if a, ok := o.Values["algorithms"]; ok {
		var err error
		if v.algs, err = parseAlgorithms(a); err != nil {
			return nil, err
		}
	}
	leeway, err := o.Duration("leeway", defaultLeeway)
	if err != nil {
		return nil, err
	}
	refresh, err := o.Duration("jwks_refresh", defaultRefresh)
	if err != nil {
		return nil, err
	}
	timeout, err := o.Duration("timeout", defaultTimeout)
	if err != nil {
		return nil, err
	}
	requireExp, err := o.Bool("require_exp", true)
	if err != nil {
		return nil, err
	}
	if leeway < 0 || refresh <= 0 || timeout <= 0 {
		return nil, errors.New("options leeway, jwks_refresh and timeout must be positive")
	}

	if hasKey {
		if err := v.useKey(o); err != nil {
			return nil, err
		}
	} else if err := v.useSet(o, refresh, timeout); err != nil {
		return nil, err
	}

	opts := []jwtlib.ParserOption{jwtlib.WithValidMethods(v.algs), jwtlib.WithLeeway(leeway), jwtlib.WithIssuedAt()}
	if requireExp {
		opts = append(opts, jwtlib.WithExpirationRequired())
	}
	if iss := o.String("issuer", ""); iss != "" {
		opts = append(opts, jwtlib.WithIssuer(iss))
	}
	if aud := splitList(o.String("audience", "")); len(aud) > 0 {
		opts = append(opts, jwtlib.WithAudience(aud...))
	}
	v.parser = jwtlib.NewParser(opts...)
	return v, nil
}

func (v *Verifier) useKey(o core.Options) error {
	s, err := o.Secret("key")
	if err != nil {
		return fmt.Errorf("option key: %w", err)
	}
	k, err := parseKey(s)
	if err != nil {
		return fmt.Errorf("option key: %w", err)
	}
	if v.algs == nil {
		v.algs = []string{k.defaultAlg()}
	}
	for _, a := range v.algs {
		if k.fits(a) {
			continue
		}
		if secret, ok := k.pub.([]byte); ok && hmacMinLen(a) > 0 {
			return fmt.Errorf("option key: %s needs a secret of at least %d bytes, this one has %d", a, hmacMinLen(a), len(secret))
		}
		return fmt.Errorf("option algorithms: %s cannot be checked with the key, %s (RSA needs %d bits or more)", a, k.kind(), minRSABits)
	}
	v.static = &k
	return nil
}

func (v *Verifier) useSet(o core.Options, refresh, timeout time.Duration) error {
	src := o.String("jwks", "")
	if src == "" {
		return errors.New("option jwks: empty")
	}
	if v.algs == nil {
		v.algs = slices.Clone(allAlgorithms)
	}
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		if _, err := url.Parse(src); err != nil {
			return fmt.Errorf("option jwks: %w", err)
		}
		// Fetched on first use: a start-up must not depend on the identity
		// provider being up.
		v.set = newURLJWKS(src, refresh, timeout)
		return nil
	}
	v.set = newFileJWKS(o.Path("jwks"), refresh)
	if _, err := v.set.get(context.Background(), false); err != nil {
		return fmt.Errorf("option jwks: %w", err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// refusal is a token refused for a reason that is safe to log: it never
// holds any part of the token.
type refusal string

func (r refusal) Error() string { return string(r) }

// VerifyToken implements core.TokenVerifier. A refused token gives an error
// wrapping core.ErrInvalidToken with a short reason; any other error means
// no key could be had (a JWKS URL that does not answer, nothing cached).
func (v *Verifier) VerifyToken(ctx context.Context, token string) (*core.Identity, error) {
	var backEnd error
	claims := jwtlib.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, func(t *jwtlib.Token) (any, error) {
		keys, err := v.keysFor(ctx, t)
		if err != nil {
			var r refusal
			if !errors.As(err, &r) {
				backEnd = err
			}
			return nil, err
		}
		if len(keys) == 1 {
			return keys[0], nil
		}
		return jwtlib.VerificationKeySet{Keys: keys}, nil
	})
	if backEnd != nil {
		return nil, backEnd
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", core.ErrInvalidToken, v.reason(err, tok))
	}
	user, ok := claims[v.userClaim].(string)
	if !ok || user == "" {
		return nil, fmt.Errorf("%w: no %s claim (a non-empty string) naming the user", core.ErrInvalidToken, v.userClaim)
	}
	return &core.Identity{User: user, AuthType: "Bearer", Claims: claims}, nil
}

// keysFor returns the keys that may check t: the static key, or the set's
// keys with t's kid (all of them when t has none), each only if it fits t's
// algorithm.
func (v *Verifier) keysFor(ctx context.Context, t *jwtlib.Token) ([]jwtlib.VerificationKey, error) {
	alg := t.Method.Alg()
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 section 4.1.11: extensions we do not understand must
		// not be ignored.
		return nil, refusal("critical header extensions are not supported")
	}
	if v.static != nil {
		if !v.static.fits(alg) {
			return nil, refusal("algorithm " + alg + " does not fit the key")
		}
		return []jwtlib.VerificationKey{v.static.pub}, nil
	}
	kid, _ := t.Header["kid"].(string)
	keys, err := v.set.get(ctx, false)
	if err != nil {
		return nil, err
	}
	out, named := pick(keys, kid, alg)
	if kid != "" && !named {
		// Perhaps the keys were rotated: look again (rate-limited).
		if keys, err = v.set.get(ctx, true); err != nil {
			return nil, err
		}
		out, named = pick(keys, kid, alg)
		if !named {
			return nil, refusal("unknown key id")
		}
	}
	if len(out) == 0 {
		return nil, refusal("no key of the set fits algorithm " + alg)
	}
	return out, nil
}

// pick returns the keys with kid (any, when kid is "") that fit alg, and
// whether any key has that kid at all.
func pick(keys []key, kid, alg string) (out []jwtlib.VerificationKey, named bool) {
	for _, k := range keys {
		if kid != "" && k.id != kid {
			continue
		}
		named = true
		if k.fits(alg) {
			out = append(out, k.pub)
		}
	}
	return out, named
}

// reason turns a parse error into a short, fixed text: golang-jwt's
// messages for the payload and header may quote parts of the token.
func (v *Verifier) reason(err error, tok *jwtlib.Token) string {
	var r refusal
	switch {
	case errors.As(err, &r):
		return string(r)
	case tok != nil && tok.Method != nil && !slices.Contains(v.algs, tok.Method.Alg()):
		// A registered algorithm's name, never free text from the token.
		return "algorithm " + tok.Method.Alg() + " not allowed"
	case errors.Is(err, jwtlib.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwtlib.ErrTokenUnverifiable):
		return "unknown or unusable algorithm"
	case errors.Is(err, jwtlib.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwtlib.ErrTokenInvalidClaims):
		var out []string
		for _, c := range []struct {
			err error
			why string
		}{
			{jwtlib.ErrTokenExpired, "expired"},
			{jwtlib.ErrTokenNotValidYet, "not valid yet (nbf)"},
			{jwtlib.ErrTokenUsedBeforeIssued, "issued in the future (iat)"},
			{jwtlib.ErrTokenInvalidIssuer, "wrong issuer"},
			{jwtlib.ErrTokenInvalidAudience, "wrong audience"},
			{jwtlib.ErrTokenRequiredClaimMissing, "missing required claim (exp, iss or aud)"},
			{jwtlib.ErrInvalidType, "claim of the wrong type"},
		} {
			if errors.Is(err, c.err) {
				out = append(out, c.why)
			}
		}
		if len(out) > 0 {
			return strings.Join(out, ", ")
		}
		return "invalid claims"
	}
	return "invalid token"
}

var _ core.TokenVerifier = (*Verifier)(nil)
