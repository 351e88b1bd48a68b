package testhost

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite" // the users table of the sqlstore location

	"github.com/anyhost/anyhost/authn/htpasswd"
)

// AuthSite is a site file with one location per built-in provider (and a
// chain of two), each answering /echo-style JSON so a test sees the user
// and auth type the host passed on. RunAuthConformance runs its table.
type AuthSite struct {
	// Path is the site file; Dir holds it and the files it names.
	Path, Dir string
	// Prefix is the path every location starts with (/auth).
	Prefix string
	hsKey  []byte
	ldap   bool
	bearer bool
}

const authIssuer, authAudience = "https://idp.anyhost.test", "anyhost-tests"

// AuthIssuer and AuthAudience are what the auth site's jwt provider wants.
const AuthIssuer, AuthAudience = authIssuer, authAudience

// WriteAuthSite writes the site into dir, which must be readable by the
// host's workers (NewApacheRoot / NewNginxPrefix give such dirs). With
// slapd non-nil it adds an LDAP location against it; bearer adds the jwt
// location (a host that carries Basic only leaves it out).
func WriteAuthSite(t testing.TB, dir string, slapd *Slapd, bearer bool) *AuthSite {
	t.Helper()
	s := &AuthSite{Dir: dir, Path: filepath.Join(dir, "auth-site.toml"), Prefix: "/auth", bearer: bearer,
		hsKey: []byte("hs256-key-of-anyhost-auth-tests-0123456789")}
	write := func(name, content string, mode os.FileMode) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), mode))
	}
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		require.NoError(t, err)
		return string(h)
	}
	entry := func(user, pw string) string {
		e, err := htpasswd.Entry(user, pw, bcrypt.MinCost)
		require.NoError(t, err)
		return e
	}
	write("users.htpasswd", entry("carol", "carol-pw")+"\n"+entry("dave", "dave-pw")+"\n"+entry("hank", "hank-file-pw")+"\n", 0o644)
	write("groups", "staff: carol hank\n", 0o644)
	write("hs.key", string(s.hsKey)+"\n", 0o644)

	db, err := sql.Open("sqlite", filepath.Join(dir, "users.db"))
	require.NoError(t, err)
	for _, q := range []string{
		"CREATE TABLE users (name TEXT NOT NULL, password TEXT NOT NULL)",
		"CREATE TABLE user_groups (user_name TEXT NOT NULL, group_name TEXT NOT NULL)",
		"INSERT INTO users VALUES ('erin', '" + hash("erin-pw") + "'), ('frank', '" + hash("frank-pw") + "')",
		"INSERT INTO user_groups VALUES ('erin', 'staff')",
	} {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())
	require.NoError(t, os.Chmod(filepath.Join(dir, "users.db"), 0o644))

	var b strings.Builder
	loc := func(path, auth string) {
		fmt.Fprintf(&b, "[[location]]\npath = %q\ncontent = [\"demo.echo\"]\n  [location.auth]\n%s\n", s.Prefix+path, auth)
	}
	loc("/static", fmt.Sprintf(`  realm = "static"
  providers = [{name = "static", options = {alice = %q, bob = %q}}]
  require = ["user alice"]`, hash("alice-static-pw"), hash("bob-static-pw")))
	loc("/htpasswd", `  realm = "htpasswd"
  providers = [{name = "htpasswd", options = {file = "users.htpasswd", groups = "groups"}}]
  require = ["group staff"]`)
	loc("/sql", `  realm = "sql"
  providers = [{name = "sqlstore", options = {dsn = "users.db", dummy_cost = 4,
    groups_query = "SELECT group_name FROM user_groups WHERE user_name = ?"}}]
  require = ["group staff"]`)
	if bearer {
		loc("/jwt", fmt.Sprintf(`  type = "bearer"
  realm = "api"
  providers = [{name = "jwt", options = {key = "file:hs.key", issuer = %q, audience = %q}}]
  require = ["claim role=admin"]`, authIssuer, authAudience))
	}
	loc("/chain", fmt.Sprintf(`  realm = "chain"
  providers = [{name = "static", options = {gina = %q, hank = %q}},
               {name = "htpasswd", options = {file = "users.htpasswd"}}]`, hash("gina-pw"), hash("hank-static-pw")))
	if slapd != nil {
		s.ldap = true
		write("ldap.pw", SlapdReaderPW+"\n", 0o644)
		loc("/ldap", fmt.Sprintf(`  realm = "ldap"
  providers = [{name = "ldap", options = {url = %q, bind_dn = %q, bind_password = "file:ldap.pw",
    base_dn = %q, group_base_dn = %q}}]
  require = ["group admins"]`, slapd.URL, SlapdReaderDN, SlapdPeople, SlapdGroups))
	}
	write("auth-site.toml", b.String(), 0o644)
	return s
}

// Secrets are the passwords and keys the table sends or the site holds:
// none may appear in a host's log at any level.
func (s *AuthSite) Secrets() []string {
	return []string{"alice-static-pw", "bob-static-pw", "carol-pw", "dave-pw", "hank-file-pw", "hank-static-pw",
		"erin-pw", "frank-pw", "gina-pw", "alice-pw", "bob-pw", SlapdReaderPW, string(s.hsKey)}
}

// Token returns an HS256 bearer token for the site's jwt location.
func (s *AuthSite) Token(t testing.TB, sub, role string, expires time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "role": role, "iss": authIssuer, "aud": authAudience,
		"iat": time.Now().Add(-time.Minute).Unix(), "exp": expires.Unix(),
	}).SignedString(s.hsKey)
	require.NoError(t, err)
	return tok
}

// RunAuthConformance checks every provider location of s through the host
// at tg: no credentials 401 with the location's challenge, good ones 200
// with the user and auth type reaching the content handler, wrong ones 401,
// authenticated but refused by require 403; chains fall through on an
// unknown user and stop on a wrong password.
func RunAuthConformance(t *testing.T, tg Target, s *AuthSite) {
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	type attempt struct {
		name     string
		header   http.Header
		status   int
		user     string // for 200
		authType string
	}
	type authCase struct {
		path      string
		challenge string
		attempts  []attempt
	}
	cases := []authCase{
		{"/static", `Basic realm="static"`, []attempt{
			{"right password", basic("alice", "alice-static-pw"), 200, "alice", "Basic"},
			{"wrong password", basic("alice", "bob-static-pw"), 401, "", ""},
			{"unknown user", basic("mallory", "alice-static-pw"), 401, "", ""},
			{"not the required user", basic("bob", "bob-static-pw"), 403, "", ""},
		}},
		{"/htpasswd", `Basic realm="htpasswd"`, []attempt{
			{"in the group", basic("carol", "carol-pw"), 200, "carol", "Basic"},
			{"wrong password", basic("carol", "dave-pw"), 401, "", ""},
			{"not in the group", basic("dave", "dave-pw"), 403, "", ""},
		}},
		{"/sql", `Basic realm="sql"`, []attempt{
			{"in the group", basic("erin", "erin-pw"), 200, "erin", "Basic"},
			{"wrong password", basic("erin", "frank-pw"), 401, "", ""},
			{"injection", basic("' OR '1'='1", "erin-pw"), 401, "", ""},
			{"not in the group", basic("frank", "frank-pw"), 403, "", ""},
		}},
		{"/chain", `Basic realm="chain"`, []attempt{
			{"first provider", basic("gina", "gina-pw"), 200, "gina", "Basic"},
			{"user not found falls through", basic("carol", "carol-pw"), 200, "carol", "Basic"},
			{"wrong password stops the chain", basic("hank", "hank-file-pw"), 401, "", ""},
			{"right in the first", basic("hank", "hank-static-pw"), 200, "hank", "Basic"},
		}},
	}
	if s.bearer {
		cases = append(cases, authCase{"/jwt", `Bearer realm="api"`, []attempt{
			{"admin token", bearer(s.Token(t, "ivy", "admin", time.Now().Add(time.Hour))), 200, "ivy", "Bearer"},
			{"expired token", bearer(s.Token(t, "ivy", "admin", time.Now().Add(-time.Hour))), 401, "", ""},
			{"forged signature", bearer(s.Token(t, "ivy", "admin", time.Now().Add(time.Hour)) + "x"), 401, "", ""},
			{"Basic instead", basic("ivy", "x"), 401, "", ""},
			{"role user", bearer(s.Token(t, "ivy", "user", time.Now().Add(time.Hour))), 403, "", ""},
		}})
	}
	if s.ldap {
		cases = append(cases, authCase{"/ldap", `Basic realm="ldap"`, []attempt{
			{"in the group", basic("alice", "alice-pw"), 200, "alice", "Basic"},
			{"wrong password", basic("alice", "bob-pw"), 401, "", ""},
			{"empty password", basic("alice", ""), 401, "", ""},
			{"injection", basic("*)(uid=*", "alice-pw"), 401, "", ""},
			{"not in the group", basic("bob", "bob-pw"), 403, "", ""},
		}})
	}
	for _, c := range cases {
		runCase(t, tg, "providers", strings.TrimPrefix(c.path, "/"), "", func(t *testing.T) {
			url := tg.URL + s.Prefix + c.path + "/x"
			res := Do(t, "GET", url, nil, nil)
			assert.Equal(t, 401, res.Status, "no credentials")
			assert.Equal(t, []string{c.challenge}, res.Header.Values("WWW-Authenticate"))
			for _, a := range c.attempts {
				res := Do(t, "GET", url, nil, a.header)
				if !assert.Equal(t, a.status, res.Status, "%s: %s", a.name, res.Body) || a.status != 200 {
					if a.status == 401 {
						assert.Equal(t, []string{c.challenge}, res.Header.Values("WWW-Authenticate"), a.name)
					}
					continue
				}
				e := EchoOf(t, res)
				assert.Equal(t, a.user, e.User, a.name)
				assert.Equal(t, a.authType, e.AuthType, a.name)
			}
		})
	}
}
