package apache_test

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

// Every built-in provider in Apache's children through AnyhostSite: the
// table the standalone host passes, with the auth phases running in
// Apache's hooks.
func TestAuthProvidersInProcess(t *testing.T) {
	root := testhost.NewApacheRoot(t)
	site := testhost.WriteAuthSite(t, root, testhost.StartSlapd(t), true)
	empty := writeSite(t, "")
	a := testhost.StartApache(t, testhost.ApacheOptions{SiteFile: empty, Extra: `AnyhostSite "` + site.Path + `"`})
	testhost.RunAuthConformance(t, a.Target(), site)
}

// Every provider behind Apache in daemon mode: mod_authnz_fcgi asks our
// FastCGI authorizer, mod_proxy_fcgi forwards the content.
func TestAuthProvidersFastCGI(t *testing.T) {
	root := testhost.NewApacheRoot(t)
	site := testhost.WriteAuthSite(t, root, testhost.StartSlapd(t), true)
	h := startFastCGIApacheSite(t, site.Path, site.Path)
	testhost.RunAuthConformance(t, h.Target(), site)
}

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
