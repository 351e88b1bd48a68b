package ldap_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

// The real `anyhost serve` with a site whose location requires the LDAP
// group admins: alice is in it, bob is a valid user outside it.
func TestServeRequireGroup(t *testing.T) {
	s := testhost.StartSlapd(t)
	dir := t.TempDir()
	site := filepath.Join(dir, "site.toml")
	require.NoError(t, os.WriteFile(site, []byte(`
[[location]]
path = "/private"
content = ["demo.private"]
  [location.auth]
  realm = "staff"
  providers = [{ name = "ldap", options = { url = "`+s.URL+`", starttls = true, ca_file = "`+s.CAFile+`",
    base_dn = "`+testhost.SlapdPeople+`", bind_dn = "`+testhost.SlapdReaderDN+`", bind_password = "env:ANYHOST_TEST_LDAP_PW",
    group_base_dn = "`+testhost.SlapdGroups+`", timeout = "5s", pool_size = 2 } }]
  require = ["group admins"]
`), 0o644))
	t.Setenv("ANYHOST_TEST_LDAP_PW", testhost.SlapdReaderPW)
	a := testhost.StartAnyhost(t, "--config", site)
	url := a.URL + "/private"

	r := testhost.Do(t, "GET", url, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, `Basic realm="staff"`, r.Header.Get("WWW-Authenticate"))

	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("alice", "alice-pw"))
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello, alice!", string(r.Body))

	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("bob", "bob-pw"))
	assert.Equal(t, http.StatusForbidden, r.Status, "bob is not in admins")

	for _, c := range [][2]string{{"alice", "wrong-pw"}, {"alice", ""}, {"nobody", "alice-pw"}, {"*", "alice-pw"}} {
		r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader(c[0], c[1]))
		assert.Equal(t, http.StatusUnauthorized, r.Status, "%s/%s", c[0], c[1])
	}

	// The directory down is a server error, not a refusal.
	s.Stop()
	r = testhost.Do(t, "GET", url, nil, testhost.BasicHeader("alice", "alice-pw"))
	assert.Equal(t, http.StatusInternalServerError, r.Status)
	// No password of the test reached anyhost's log.
	log := a.SettledLog(t)
	for _, pw := range []string{testhost.SlapdReaderPW, "alice-pw", "bob-pw", "wrong-pw"} {
		assert.NotContains(t, log, pw)
	}
	assert.Contains(t, log, "authentication back end failed")
}
