package jwt_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	jwtlib "github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/bearer"
	"github.com/anyhost/anyhost/core"
)

// Every algorithm, with its key given three ways: a static key (PEM public
// key or HMAC secret file), a JWKS file and a JWKS URL.
func TestEachAlgorithmAndKeySource(t *testing.T) {
	for _, alg := range algs {
		s := signerFor(alg)
		for _, src := range []string{"key", "jwks-file", "jwks-url"} {
			t.Run(alg+"/"+src, func(t *testing.T) {
				dir := t.TempDir()
				opts := map[string]string{"issuer": "https://idp.test", "audience": "api"}
				switch src {
				case "key":
					writeFile(t, dir, "key.pem", []byte(s.pem))
					opts["key"] = "file:key.pem"
				case "jwks-file":
					writeFile(t, dir, "jwks.json", jwksJSON(t, s.jwk("k1")))
					opts["jwks"] = "jwks.json"
				case "jwks-url":
					opts["jwks"] = newJWKSServer(t, jwksJSON(t, s.jwk("k1"))).URL + "/jwks.json"
				}
				v := newVerifier(t, dir, opts)

				id, err := verify(v, s.sign(t, "k1", claims("alice", map[string]any{"role": "admin"})))
				require.NoError(t, err)
				assert.Equal(t, "alice", id.User)
				assert.Equal(t, "Bearer", id.AuthType)
				assert.Equal(t, "admin", id.Claims["role"])

				forged := sign(t, s.method, s.other, "k1", claims("alice", nil))
				_, err = verify(v, forged)
				assert.ErrorIs(t, err, core.ErrInvalidToken, "signed by another key")
				assert.ErrorContains(t, err, "bad signature")

				// A good signature over other claims: bob's token made admin.
				bob := strings.Split(s.sign(t, "k1", claims("bob", nil)), ".")
				admin := strings.Split(s.sign(t, "k1", claims("bob", map[string]any{"role": "admin"})), ".")
				_, err = verify(v, bob[0]+"."+admin[1]+"."+bob[2])
				assert.ErrorIs(t, err, core.ErrInvalidToken, "payload swapped")
			})
		}
	}
}

func TestAlgNoneRefused(t *testing.T) {
	dir := t.TempDir()
	hs := signerFor("HS256")
	writeFile(t, dir, "hs.key", []byte(hs.pem))
	writeFile(t, dir, "jwks.json", jwksJSON(t, signerFor("RS256").jwk("k1")))
	none := sign(t, jwtlib.SigningMethodNone, jwtlib.UnsafeAllowNoneSignatureType, "k1", claims("alice", nil))
	for _, opts := range []map[string]string{
		{"key": "file:hs.key"},
		{"jwks": "jwks.json"},
	} {
		_, err := verify(newVerifier(t, dir, opts), none)
		assert.ErrorIs(t, err, core.ErrInvalidToken, "%v", opts)
		assert.ErrorContains(t, err, "algorithm none not allowed")
	}
	_, err := bearer.NewVerifier("jwt", core.Options{Values: map[string]string{"key": "file:hs.key", "algorithms": "none"}, Dir: dir})
	assert.ErrorContains(t, err, "option algorithms")
}

// The classic confusion: the verifier holds an RSA public key, the attacker
// signs HS256 with that public key's bytes as the HMAC secret.
func TestAlgorithmConfusionRefused(t *testing.T) {
	dir := t.TempDir()
	rs, es := signerFor("RS256"), signerFor("ES256")
	writeFile(t, dir, "rsa.pem", []byte(rs.pem))
	trimmed := strings.TrimRight(rs.pem, "\n")
	for _, secret := range []string{rs.pem, trimmed} {
		confused := sign(t, jwtlib.SigningMethodHS256, []byte(secret), "rsa", claims("mallory", nil))

		_, err := verify(newVerifier(t, dir, map[string]string{"key": "file:rsa.pem"}), confused)
		assert.ErrorIs(t, err, core.ErrInvalidToken)
		assert.ErrorContains(t, err, "algorithm HS256 not allowed")

		// A key set allows every algorithm by default, and a JWK without
		// "alg": the RSA key still checks RSA signatures only.
		writeFile(t, dir, "jwks.json", jwksJSON(t, jose.JSONWebKey{Key: rs.pub, KeyID: "rsa"}))
		v := newVerifier(t, dir, map[string]string{"jwks": "jwks.json"})
		_, err = verify(v, confused)
		assert.ErrorIs(t, err, core.ErrInvalidToken)
		assert.ErrorContains(t, err, "no key of the set fits algorithm HS256")
		_, err = verify(v, es.sign(t, "rsa", claims("mallory", nil)))
		assert.ErrorContains(t, err, "no key of the set fits algorithm ES256")
		_, err = verify(v, rs.sign(t, "rsa", claims("alice", nil)))
		assert.NoError(t, err)
	}
	// Asking for HS256 with an RSA key is a configuration error.
	_, err := bearer.NewVerifier("jwt", core.Options{Values: map[string]string{"key": "file:rsa.pem", "algorithms": "RS256,HS256"}, Dir: dir})
	assert.ErrorContains(t, err, "option algorithms: HS256 cannot be checked with the key, an RSA public key")
}

// A JWK's "alg" pins it to that one algorithm even within its family.
func TestJWKAlgPinsTheKey(t *testing.T) {
	dir := t.TempDir()
	rs := signerFor("RS256")
	writeFile(t, dir, "jwks.json", jwksJSON(t, rs.jwk("k1")))
	v := newVerifier(t, dir, map[string]string{"jwks": "jwks.json"})
	_, err := verify(v, sign(t, jwtlib.SigningMethodPS256, rs.priv, "k1", claims("alice", nil)))
	assert.ErrorContains(t, err, "no key of the set fits algorithm PS256")
}

// Tokens without kid are checked against every key of the set that fits
// their algorithm; keys of a kind this verifier does not use are skipped.
func TestJWKSWithoutKid(t *testing.T) {
	dir := t.TempDir()
	rs, es, ed := signerFor("RS256"), signerFor("ES256"), signerFor("EdDSA")
	doc := `{"keys":[{"kty":"weird","kid":"x"},` + strings.TrimPrefix(string(jwksJSON(t,
		jose.JSONWebKey{Key: rs.pub}, jose.JSONWebKey{Key: es.pub}, jose.JSONWebKey{Key: ed.pub, Use: "enc"})), `{"keys":[`)
	writeFile(t, dir, "jwks.json", []byte(doc))
	v := newVerifier(t, dir, map[string]string{"jwks": "jwks.json"})
	for _, s := range []*signer{rs, es} {
		id, err := verify(v, s.sign(t, "", claims("alice", nil)))
		require.NoError(t, err, s.alg)
		assert.Equal(t, "alice", id.User)
	}
	_, err := verify(v, ed.sign(t, "", claims("alice", nil)))
	assert.ErrorContains(t, err, "no key of the set fits algorithm EdDSA", "an encryption key never checks signatures")
}

func TestTimeClaims(t *testing.T) {
	dir := t.TempDir()
	hs := signerFor("HS256")
	writeFile(t, dir, "hs.key", []byte(hs.pem))
	now := time.Now()
	lenient := newVerifier(t, dir, map[string]string{"key": "file:hs.key", "leeway": "30s"})
	strict := newVerifier(t, dir, map[string]string{"key": "file:hs.key", "leeway": "0s"})
	defaults := newVerifier(t, dir, map[string]string{"key": "file:hs.key"})
	noExp := newVerifier(t, dir, map[string]string{"key": "file:hs.key", "require_exp": "false"})

	for _, tt := range []struct {
		name    string
		v       core.TokenVerifier
		claims  map[string]any
		refused string // "" = accepted
	}{
		{"expired", defaults, map[string]any{"iat": now.Add(-3 * time.Hour).Unix(), "exp": now.Add(-2 * time.Hour).Unix()}, "expired"},
		{"exp within leeway", lenient, map[string]any{"exp": now.Add(-10 * time.Second).Unix()}, ""},
		{"exp past without leeway", strict, map[string]any{"exp": now.Add(-10 * time.Second).Unix()}, "expired"},
		{"nbf in the future", defaults, map[string]any{"nbf": now.Add(time.Hour).Unix()}, "not valid yet"},
		{"nbf within leeway", lenient, map[string]any{"nbf": now.Add(10 * time.Second).Unix()}, ""},
		{"iat in the future", defaults, map[string]any{"iat": now.Add(time.Hour).Unix()}, "issued in the future"},
		{"no exp", defaults, map[string]any{"exp": nil}, "missing required claim"},
		{"no exp allowed", noExp, map[string]any{"exp": nil}, ""},
		{"exp not a number", defaults, map[string]any{"exp": "tomorrow"}, "claim of the wrong type"},
	} {
		_, err := verify(tt.v, hs.sign(t, "", claims("alice", tt.claims)))
		if tt.refused == "" {
			assert.NoError(t, err, tt.name)
			continue
		}
		assert.ErrorIs(t, err, core.ErrInvalidToken, tt.name)
		assert.ErrorContains(t, err, tt.refused, tt.name)
	}
}

func TestIssuerAndAudience(t *testing.T) {
	dir := t.TempDir()
	es := signerFor("ES256")
	writeFile(t, dir, "es.pem", []byte(es.pem))
	v := newVerifier(t, dir, map[string]string{"key": "file:es.pem", "issuer": "https://idp.test", "audience": "api, admin-api"})
	open := newVerifier(t, dir, map[string]string{"key": "file:es.pem"})
	for _, tt := range []struct {
		name    string
		v       core.TokenVerifier
		claims  map[string]any
		refused string
	}{
		{"right", v, nil, ""},
		{"second audience", v, map[string]any{"aud": "admin-api"}, ""},
		{"audience list", v, map[string]any{"aud": []string{"other", "api"}}, ""},
		{"wrong issuer", v, map[string]any{"iss": "https://evil.test"}, "wrong issuer"},
		{"no issuer", v, map[string]any{"iss": nil}, "missing required claim"},
		{"wrong audience", v, map[string]any{"aud": []string{"other", "more"}}, "wrong audience"},
		{"no audience", v, map[string]any{"aud": nil}, "missing required claim"},
		{"unchecked when not configured", open, map[string]any{"iss": "https://evil.test", "aud": "other"}, ""},
	} {
		_, err := verify(tt.v, es.sign(t, "", claims("alice", tt.claims)))
		if tt.refused == "" {
			assert.NoError(t, err, tt.name)
			continue
		}
		assert.ErrorIs(t, err, core.ErrInvalidToken, tt.name)
		assert.ErrorContains(t, err, tt.refused, tt.name)
	}
}

func TestUserClaim(t *testing.T) {
	dir := t.TempDir()
	ed := signerFor("EdDSA")
	writeFile(t, dir, "ed.pem", []byte(ed.pem))
	v := newVerifier(t, dir, map[string]string{"key": "file:ed.pem", "user_claim": "preferred_username"})
	id, err := verify(v, ed.sign(t, "", claims("f81d4fae-7dec", map[string]any{"preferred_username": "alice"})))
	require.NoError(t, err)
	assert.Equal(t, "alice", id.User)
	assert.Equal(t, "f81d4fae-7dec", id.Claims["sub"])

	_, err = verify(v, ed.sign(t, "", claims("f81d4fae-7dec", nil)))
	assert.ErrorIs(t, err, core.ErrInvalidToken)
	assert.ErrorContains(t, err, "no preferred_username claim")

	def := newVerifier(t, dir, map[string]string{"key": "file:ed.pem"})
	for _, sub := range []any{nil, "", 42} {
		_, err = verify(def, ed.sign(t, "", claims("x", map[string]any{"sub": sub})))
		assert.ErrorContains(t, err, "no sub claim", "%v", sub)
	}
}

// Claims reach `require claim` as JSON gives them: strings, lists, numbers
// and booleans.
func TestClaimsForRequire(t *testing.T) {
	dir := t.TempDir()
	hs := signerFor("HS256")
	writeFile(t, dir, "hs.key", []byte(hs.pem))
	v := newVerifier(t, dir, map[string]string{"key": "file:hs.key"})
	id, err := verify(v, hs.sign(t, "", claims("alice", map[string]any{
		"roles": []string{"a", "admin"}, "level": 3, "staff": true, "dept": "ops",
	})))
	require.NoError(t, err)
	r := &core.Request{User: id.User, AuthType: id.AuthType, Identity: id}
	for rule, want := range map[string]bool{
		"claim roles=admin":        true,
		"claim roles=a":            true,
		"claim roles=root":         false,
		"claim role=admin":         false,
		"claim level=3":            true,
		"claim staff=true":         true,
		"claim dept=ops":           true,
		"claim dept=dev roles=a":   true,
		"claim dept=dev roles=dev": false,
	} {
		rq, err := authn.ParseRequire(rule)
		require.NoError(t, err)
		ok, err := rq.Authorize(r)
		require.NoError(t, err)
		assert.Equal(t, want, ok, rule)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "short.key", []byte("too-short-for-hs256"))
	writeFile(t, dir, "hs.key", []byte(signerFor("HS256").pem))
	writeFile(t, dir, "rsa.pem", []byte(signerFor("RS256").pem))
	writeFile(t, dir, "priv.pem", []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"))
	writeFile(t, dir, "bad.json", []byte(`{"keys":[]}`))
	for _, tt := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{}, "exactly one of the options key"},
		{map[string]string{"key": "file:hs.key", "jwks": "x.json"}, "exactly one of the options key"},
		{map[string]string{"key": "inline-secret-value-inline-secret-value"}, "file:PATH or env:NAME"},
		{map[string]string{"key": "file:missing.key"}, "option key"},
		{map[string]string{"key": "file:short.key"}, "option key: HS256 needs a secret of at least 32 bytes"},
		{map[string]string{"key": "file:hs.key", "algorithms": "HS512"}, "option key: HS512 needs a secret of at least 64 bytes"},
		{map[string]string{"key": "file:priv.pem"}, "private key"},
		{map[string]string{"key": "file:rsa.pem", "algorithms": "ES256"}, "option algorithms: ES256"},
		{map[string]string{"key": "file:hs.key", "algorithms": "HS257"}, "unknown algorithm"},
		{map[string]string{"key": "file:hs.key", "leeway": "soon"}, "option leeway"},
		{map[string]string{"key": "file:hs.key", "require_exp": "maybe"}, "option require_exp"},
		{map[string]string{"key": "file:hs.key", "secret": "x"}, "unknown option secret"},
		{map[string]string{"jwks": "bad.json"}, "option jwks"},
		{map[string]string{"jwks": "missing.json"}, "option jwks"},
	} {
		_, err := bearer.NewVerifier("jwt", core.Options{Values: tt.opts, Dir: dir})
		assert.ErrorContains(t, err, tt.want, "%v", tt.opts)
	}
	t.Setenv("ANYHOST_TEST_JWT_SECRET", signerFor("HS256").pem)
	_, err := bearer.NewVerifier("jwt", core.Options{Values: map[string]string{"key": "env:ANYHOST_TEST_JWT_SECRET"}})
	assert.NoError(t, err)
}
