package apache_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/htpasswd"
	"github.com/anyhost/anyhost/internal/testhost"
)

// In-process, a bearer location has no directive form: apache conf
// refuses it with the ways out, instead of writing a Basic challenge that
// cannot work.
func TestApacheConfRefusesBearer(t *testing.T) {
	site := testhost.WriteAuthSite(t, t.TempDir(), nil, true)
	for _, args := range [][]string{
		{"apache", "conf", "--lib-dir", t.TempDir(), "--config", site.Path},
	} {
		out, err := exec.Command(testhost.AnyhostBinary(t), args...).CombinedOutput()
		require.Error(t, err, "%s", out)
		assert.Contains(t, string(out), "auth-site.toml:")
		assert.Contains(t, string(out), "location /auth/jwt: auth type bearer has no Apache directive form; serve this site in-process with `AnyhostSite")
	}
}

// The site's [auth] cache and throttle run in the Go pipeline: the
// directive form refuses them with the ways out; daemon mode carries them.
func TestApacheConfAuthSettings(t *testing.T) {
	site := writeSite(t, `[auth.throttle]
max_user_failures = 3

[[location]]
path = "/private"
content = ["demo.private"]
  [location.auth]
  realm = "r"
  providers = ["demo.users"]
`)
	bin := testhost.AnyhostBinary(t)
	out, err := exec.Command(bin, "apache", "conf", "--lib-dir", t.TempDir(), "--config", site).CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), "site.toml:1: [auth] cache and throttle run in the Go pipeline: serve this site in-process with `AnyhostSite")
	out, err = exec.Command(bin, "apache", "conf", "--mode", "fastcgi", "--fastcgi", "127.0.0.1:9000", "--config", site).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// A throttled login reaches the client as 429 with Retry-After through
// Apache, in-process (AnyhostSite) and in daemon mode (mod_authnz_fcgi
// passes the authorizer's refusal on).
func TestThrottledLoginIs429(t *testing.T) {
	root := testhost.NewApacheRoot(t)
	users := filepath.Join(root, "users")
	require.NoError(t, htpasswd.SetPassword(users, "demo", "demo-pw", 4))
	require.NoError(t, os.Chmod(users, 0o644))
	site := filepath.Join(root, "throttle.toml")
	require.NoError(t, os.WriteFile(site, []byte(`[auth.throttle]
max_user_failures = 2
max_client_failures = 0
window = "90s"

[[location]]
path = "/echo"
content = ["demo.echo"]
  [location.auth]
  realm = "r"
  providers = [{name = "htpasswd", options = {file = "users"}}]
`), 0o644))
	check := func(t *testing.T, url string) {
		assert.Equal(t, 200, testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "demo-pw")).Status)
		for range 2 {
			assert.Equal(t, 401, testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "guess")).Status)
		}
		res := testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "demo-pw"))
		assert.Equal(t, 429, res.Status, "throttled: %s", res.Body)
		assert.Equal(t, "90", res.Header.Get("Retry-After"))
	}
	t.Run("in-process", func(t *testing.T) {
		a := testhost.StartApache(t, testhost.ApacheOptions{SiteFile: writeSite(t, ""), Extra: `AnyhostSite "` + site + `"`})
		check(t, a.URL+"/echo")
	})
	t.Run("daemon mode", func(t *testing.T) {
		h := startFastCGIApacheSite(t, site, site)
		check(t, h.URL+"/echo")
	})
}
