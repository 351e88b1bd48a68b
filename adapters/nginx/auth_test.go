package nginx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/htpasswd"
	_ "github.com/anyhost/anyhost/builtin"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/internal/testhost"
)

// Every built-in provider behind nginx: the auth phases answer
// auth_request, the user reaches the FastCGI responder as ANYHOST_USER.
func TestAuthProviders(t *testing.T) {
	site := testhost.WriteAuthSite(t, testhost.NewNginxPrefix(t), testhost.StartSlapd(t), true)
	cfg, err := config.Load(site.Path)
	require.NoError(t, err)
	s := startSiteStack(t, cfg, cfg, nil)
	testhost.RunAuthConformance(t, s.Target("fastcgi"), site)
}

// A throttled login (mode 429) reaches the client as 403 through nginx,
// which passes no 429 from auth_request, and never as a grant or a 500.
func TestThrottledLoginIs403(t *testing.T) {
	dir := testhost.NewNginxPrefix(t)
	users := filepath.Join(dir, "users")
	require.NoError(t, htpasswd.SetPassword(users, "demo", "demo-pw", 4))
	src := `[auth.throttle]
max_user_failures = 2
max_client_failures = 0

[[location]]
path = "/echo"
content = ["demo.echo"]
  [location.auth]
  realm = "r"
  providers = [{name = "htpasswd", options = {file = "users"}}]
`
	path := filepath.Join(dir, "site.toml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	s := startSiteStack(t, cfg, cfg, nil)
	url := s.URL + "/echo"
	assert.Equal(t, 200, testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "demo-pw")).Status)
	for range 2 {
		assert.Equal(t, 401, testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "guess")).Status)
	}
	res := testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "demo-pw"))
	assert.Equal(t, 403, res.Status, "throttled: %s", res.Body)
}
