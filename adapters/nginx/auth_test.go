package nginx

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/htpasswd"
	_ "github.com/anyhost/anyhost/builtin"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/internal/testhost"
)

// A throttled login (mode 429) reaches the client as 429 with Retry-After,
// as on every host: the responder answers it, not auth_request (which
// would pass only 401 and 403 on).
func TestThrottledLoginIs429(t *testing.T) {
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
	assert.Equal(t, 429, res.Status, "throttled: %s", res.Body)
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
}

// An upload to a location with auth, without credentials, is refused with
// 401 before nginx has read its body (fastcgi_request_buffering off: the
// responder runs the auth phases as soon as the params arrive).
func TestUploadRefusedBeforeBody(t *testing.T) {
	s := startStack(t, nil)
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = fmt.Fprintf(c, "POST /private/upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", 8<<20)
	require.NoError(t, err)
	_, err = c.Write(make([]byte, 4096)) // a start: nginx has a little of it
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "no answer before the body was sent")
	defer res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, `Basic realm="anyhost demo"`, res.Header.Get("WWW-Authenticate"))

	// With the password, the same upload goes through whole.
	body := bytes.Repeat([]byte("u"), 3<<20)
	e := testhost.EchoOf(t, testhost.Do(t, "POST", s.URL+"/echo", bytes.NewReader(body), nil))
	assert.Equal(t, int64(len(body)), e.BodyLength)
	r := testhost.Do(t, "POST", s.URL+"/private/upload", bytes.NewReader(body), testhost.BasicHeader("demo", "demo"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello, demo!", string(r.Body))
}

// Content nginx serves itself (here files with alias) under a site location
// with auth gets that location's auth phases through auth_request, as
// AuthRecipe shows; the subrequests reuse their connections. A location
// calling auth_request without naming its site location is refused where
// the secret is configured.
func TestNginxServedContentAuth(t *testing.T) {
	files := testhost.NewNginxPrefix(t)
	require.NoError(t, os.WriteFile(filepath.Join(files, "report.txt"), []byte("quarterly\n"), 0o644))
	s := startStack(t, func(conf string) string {
		locs := fmt.Sprintf(`location ^~ /private/files/ {
            set $anyhost_location /private;
            auth_request %[1]s;
            auth_request_set $anyhost_user $upstream_http_x_anyhost_user;
            add_header X-User $anyhost_user;
            alias %[2]s/;
        }
        location ^~ /echo/files/ {
            auth_request %[1]s;
            alias %[2]s/;
        }
        location = %[1]s {`, AuthLocation, files)
		return strings.Replace(conf, "location = "+AuthLocation+" {", locs, 1)
	})
	url := s.URL + "/private/files/report.txt"
	r := testhost.Do(t, "GET", url, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, `Basic realm="anyhost demo"`, r.Header.Get("WWW-Authenticate"))
	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "nope"))
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "demo"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "quarterly\n", string(r.Body))
	assert.Equal(t, "demo", r.Header.Get("X-User"))

	before := s.authConns.Load()
	for range 20 {
		require.Equal(t, http.StatusOK, testhost.Do(t, "GET", url, nil, testhost.BasicHeader("demo", "demo")).Status)
		require.Equal(t, http.StatusUnauthorized, testhost.Do(t, "GET", url, nil, nil).Status)
	}
	// At most one new connection per worker (2): 204 and 401 with
	// Content-Length: 0 both leave the connection reusable.
	assert.Positive(t, s.authConns.Load(), "the auth endpoint was used")
	assert.LessOrEqual(t, s.authConns.Load()-before, int64(2))
	assert.NotContains(t, s.ErrorLog(), "upstream")

	assert.Equal(t, http.StatusInternalServerError, testhost.Do(t, "GET", s.URL+"/echo/files/report.txt", nil, nil).Status,
		"no $anyhost_location: the check is refused, never granted")
}
