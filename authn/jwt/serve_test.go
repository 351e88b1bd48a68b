package jwt_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// The real `anyhost serve` with a bearer location: the jwt verifier is
// linked into the binary, built from the site file, and its claims decide
// `require claim`.
func TestServeBearerLocation(t *testing.T) {
	dir := t.TempDir()
	hs := signerFor("HS256")
	writeFile(t, dir, "hs.key", []byte(hs.pem+"\n"))
	site := writeFile(t, dir, "site.toml", []byte(`
[[location]]
path = "/api"
content = ["demo.echo"]
  [location.auth]
  type = "bearer"
  realm = "api"
  providers = [{name = "jwt", options = {key = "file:hs.key", issuer = "https://idp.test", audience = "api"}}]
  require = ["claim role=admin"]
`))
	h := testhost.StartAnyhost(t, "--config", site)

	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	admin := hs.sign(t, "", claims("alice", map[string]any{"role": "admin"}))
	user := hs.sign(t, "", claims("bob", map[string]any{"role": "user"}))
	now := time.Now()
	expired := hs.sign(t, "", claims("alice", map[string]any{"role": "admin", "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}))

	r := testhost.Do(t, "GET", h.URL+"/api/x", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, `Bearer realm="api"`, r.Header.Get("WWW-Authenticate"))

	e := testhost.EchoOf(t, testhost.Do(t, "GET", h.URL+"/api/x", nil, bearer(admin)))
	assert.Equal(t, "alice", e.User)
	assert.Equal(t, "Bearer", e.AuthType)

	r = testhost.Do(t, "GET", h.URL+"/api/x", nil, bearer(user))
	assert.Equal(t, http.StatusForbidden, r.Status)

	r = testhost.Do(t, "GET", h.URL+"/api/x", nil, bearer(expired))
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, `Bearer realm="api"`, r.Header.Get("WWW-Authenticate"))

	// A token for another audience signed with the right key is refused too.
	r = testhost.Do(t, "GET", h.URL+"/api/x", nil, bearer(hs.sign(t, "", claims("alice", map[string]any{"role": "admin", "aud": "other"}))))
	assert.Equal(t, http.StatusUnauthorized, r.Status)

	logs := h.SettledLog(t)
	assert.Contains(t, logs, "expired")
	for _, tok := range []string{admin, user, expired} {
		assert.NotContains(t, logs, strings.Split(tok, ".")[2], "no token in the server's log")
	}
}
