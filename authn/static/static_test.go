package static_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/anyhost/anyhost/authn/static"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

func bcryptHash(t *testing.T, pw string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	require.NoError(t, err)
	return string(h)
}

func TestCheckPassword(t *testing.T) {
	ctx := context.Background()
	p, err := static.New(core.Options{Values: map[string]string{
		"alice": bcryptHash(t, "alice-pw", 5),
		"bob":   "$apr1$7O6BBuja$YcwTLmJmErJ4Uo6nTa1Ip0", // htpasswd -m: s3cret
		"carol": "{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=",     // htpasswd -s: s3cret
	}})
	require.NoError(t, err)
	for _, c := range []struct {
		user, pass string
		want       core.AuthResult
	}{
		{"alice", "alice-pw", core.Granted},
		{"alice", "alice-pw ", core.Denied},
		{"alice", "", core.Denied},
		{"bob", "s3cret", core.Granted},
		{"bob", "S3cret", core.Denied},
		{"carol", "s3cret", core.Granted},
		{"carol", "x", core.Denied},
	} {
		got, err := p.CheckPassword(ctx, c.user, c.pass)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "%s/%q", c.user, c.pass)
	}
	sp := p.(*static.Provider)
	assert.Zero(t, sp.DummyChecks(), "known users check their own hash")
	got, err := p.CheckPassword(ctx, "mallory", "alice-pw")
	require.NoError(t, err)
	assert.Equal(t, core.UserNotFound, got)
	assert.EqualValues(t, 1, sp.DummyChecks(), "an unknown user pays a dummy hash")
}

func TestPlainTextIsRefused(t *testing.T) {
	_, err := static.New(core.Options{Values: map[string]string{
		"alice": "correct horse battery staple",
		"bob":   bcryptHash(t, "x", 4),
		"eve":   "{PLAIN}hunter2",
	}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "user alice: not a known hash")
	assert.Contains(t, err.Error(), "user eve: not a known hash")
	assert.Contains(t, err.Error(), "htpasswd -nB alice")
	assert.NotContains(t, err.Error(), "battery", "a password typed in clear is never repeated")
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "user bob")

	_, err = static.New(core.Options{})
	assert.ErrorContains(t, err, "no users")
	_, err = static.New(core.Options{Values: map[string]string{"a:b": bcryptHash(t, "x", 4)}})
	assert.ErrorContains(t, err, "must not contain ':'")
}

// The provider in the real standalone host, and a plain-text site file
// refused by `anyhost check` with its line.
func TestInStandaloneHost(t *testing.T) {
	dir := t.TempDir()
	site := fmt.Sprintf(`[[location]]
path = "/team"
content = ["demo.private"]

  [location.auth]
  realm = "team"
  providers = [{ name = "static", options = { alice = %q, bob = %q } }]
  require = ["user alice"]
`, bcryptHash(t, "alice-pw", bcrypt.DefaultCost), bcryptHash(t, "bob-pw", bcrypt.DefaultCost))
	path := filepath.Join(dir, "site.toml")
	require.NoError(t, os.WriteFile(path, []byte(site), 0o644))
	h := testhost.StartAnyhost(t, "--config", path)
	get := func(hdr http.Header) testhost.Response {
		return testhost.Do(t, "GET", h.URL+"/team/x", nil, hdr)
	}
	res := get(nil)
	assert.Equal(t, http.StatusUnauthorized, res.Status)
	assert.Equal(t, `Basic realm="team"`, res.Header.Get("WWW-Authenticate"))
	res = get(testhost.BasicHeader("alice", "alice-pw"))
	assert.Equal(t, http.StatusOK, res.Status)
	assert.Equal(t, "Hello, alice!", string(res.Body))
	assert.Equal(t, http.StatusForbidden, get(testhost.BasicHeader("bob", "bob-pw")).Status)
	assert.Equal(t, http.StatusUnauthorized, get(testhost.BasicHeader("alice", "bob-pw")).Status)
	assert.Equal(t, http.StatusUnauthorized, get(testhost.BasicHeader("nobody", "alice-pw")).Status,
		"an unknown user gets what a wrong password gets")
	assert.NotContains(t, h.SettledLog(t), "alice-pw")

	bad := filepath.Join(dir, "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte(`[[location]]
path = "/team"
content = ["demo.private"]

  [location.auth]
  realm = "team"
  providers = [{ name = "static", options = { alice = "alice-pw" } }]
`), 0o644))
	out, err := exec.Command(testhost.AnyhostBinary(t), "check", "--config", bad).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "bad.toml:7: provider static: user alice: not a known hash")
	assert.NotContains(t, string(out), "alice-pw")
}
