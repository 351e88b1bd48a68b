package jwt_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/bearer"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
)

// Refused tokens, a key set that is down and one that went stale all go
// through bearer.Bearer and the authn phase with a real logger: the reasons
// are logged, no part of any token is.
func TestTokensNeverLogged(t *testing.T) {
	dir := t.TempDir()
	hs, rs := signerFor("HS256"), signerFor("RS256")
	writeFile(t, dir, "hs.key", []byte(hs.pem))
	v := newVerifier(t, dir, map[string]string{"key": "file:hs.key", "audience": "api"})

	down := newJWKSServer(t, []byte("down"))
	down.set([]byte("down"), http.StatusInternalServerError)
	vDown := newVerifier(t, dir, map[string]string{"jwks": down.URL})

	stale := newJWKSServer(t, jwksJSON(t, rs.jwk("k1")))
	vStale := newVerifier(t, dir, map[string]string{"jwks": stale.URL, "jwks_refresh": "1ns"})

	var buf bytes.Buffer
	log := zerolog.New(&buf)
	run := func(vf core.TokenVerifier, token string) (core.Status, *core.Request) {
		r := &core.Request{Method: "GET", URI: "/api", Path: "/api", Header: http.Header{"Authorization": {"Bearer " + token}}}
		host.Bind(r, httptest.NewRecorder(), context.Background(), &log)
		return authn.AuthnHandler(&bearer.Bearer{Realm: "api", Verifiers: []core.TokenVerifier{vf}}).Handle(r), r
	}

	now := time.Now()
	refused := map[string]string{
		"expired":                    hs.sign(t, "", claims("alice", map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})),
		"bad signature":              sign(t, hs.method, hs.other, "", claims("alice", nil)),
		"algorithm none not allowed": sign(t, jwtlib.SigningMethodNone, jwtlib.UnsafeAllowNoneSignatureType, "", claims("alice", nil)),
		"wrong audience":             hs.sign(t, "", claims("alice", map[string]any{"aud": "other"})),
		"malformed token":            "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQtbm90LWpzb24.c2lnbmF0dXJlLXBhcnQ",
	}
	for why, tok := range refused {
		st, r := run(v, tok)
		assert.Equal(t, core.Status(http.StatusUnauthorized), st, why)
		assert.Equal(t, `Bearer realm="api"`, r.ErrHeader().Get("WWW-Authenticate"), why)
		assert.Contains(t, buf.String(), why)
	}

	good := rs.sign(t, "k1", claims("alice", nil))
	st, _ := run(vDown, good)
	assert.Equal(t, core.Status(http.StatusInternalServerError), st, "key set down, nothing cached")
	assert.Contains(t, buf.String(), "authentication back end failed")

	st, r := run(vStale, good)
	assert.Equal(t, core.OK, st)
	assert.Equal(t, "alice", r.User)
	stale.set([]byte("down"), http.StatusBadGateway)
	st, _ = run(vStale, good)
	assert.Equal(t, core.OK, st, "the cached keys keep serving")
	assert.Contains(t, buf.String(), "still using the cached keys", "the request's logger reaches the verifier")

	out := buf.String()
	for why, tok := range refused {
		assert.NotContains(t, out, tok, why)
		for _, part := range strings.Split(tok, ".")[1:] {
			if len(part) >= 8 {
				assert.NotContains(t, out, part, why)
			}
		}
	}
	assert.NotContains(t, out, good)
	assert.NotContains(t, out, strings.Split(good, ".")[2])
	assert.NotContains(t, out, hs.pem)
}
