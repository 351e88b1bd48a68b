package sqlstore_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// siteWith is a site file whose /staff location admits group staff through
// one sqlstore provider with the given options.
func siteWith(opts map[string]string) string {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var kv []string
	for _, k := range keys {
		kv = append(kv, k+" = "+strconv.Quote(opts[k]))
	}
	return fmt.Sprintf(`[[location]]
path = "/staff"
content = ["demo.private"]
  [location.auth]
  realm = "staff"
  providers = [{name = "sqlstore", options = {%s}}]
  require = ["group staff"]
`, strings.Join(kv, ", "))
}

// testServe runs the real `anyhost serve` with a site file in dir and checks
// the answers a browser gets; breakIt then takes the database away, which
// must give 500, never a login.
func testServe(t *testing.T, dir string, opts map[string]string, breakIt func()) {
	opts["dummy_cost"] = "4"
	site := writeFile(t, dir, "site.toml", siteWith(opts))
	a := testhost.StartAnyhost(t, "--config", site)
	url := a.URL + "/staff"

	r := testhost.Do(t, "GET", url, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, `Basic realm="staff"`, r.Header.Get("WWW-Authenticate"))

	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("ann", "pw-ann"))
	assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "Hello, ann!", strings.TrimSpace(string(r.Body)))

	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("bob", "s3cret"))
	assert.Equal(t, http.StatusForbidden, r.Status, "bob is not in staff")

	for _, c := range [][2]string{{"ann", "wrong"}, {"ghost", "pw-ann"}, {"' OR '1'='1", "' OR '1'='1"}} {
		r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader(c[0], c[1]))
		assert.Equal(t, http.StatusUnauthorized, r.Status, c[0])
		assert.Equal(t, `Basic realm="staff"`, r.Header.Get("WWW-Authenticate"))
	}

	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("twin", "pw-twin"))
	assert.Equal(t, http.StatusInternalServerError, r.Status, "ambiguous rows are a server error")

	breakIt()
	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("ann", "pw-ann"))
	assert.Equal(t, http.StatusInternalServerError, r.Status, "a database that is gone is a server error")
	assert.NotContains(t, a.SettledLog(t), "pw-ann", "no password in the log")
}

func TestServeSQLite(t *testing.T) {
	dir := t.TempDir()
	newSQLite(t, dir, "users.db")
	testServe(t, dir, map[string]string{
		"dsn":          "users.db",
		"groups_query": "SELECT group_name FROM user_groups WHERE user_name = ?",
	}, func() { require.NoError(t, os.Remove(filepath.Join(dir, "users.db"))) })
}
