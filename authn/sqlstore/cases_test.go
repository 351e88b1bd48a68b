package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/authn/sqlstore"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// backend is one database the same cases run against.
type backend struct {
	// admin is a connection of the test's own, for the schema and for
	// breaking things.
	admin *sql.DB
	// base are the options that reach the database (driver, dsn); dir is
	// the site directory relative paths resolve against.
	base map[string]string
	dir  string
	// ph writes the i-th query parameter ("?" or "$1").
	ph func(i int) string
}

func (b backend) options(extra ...string) core.Options {
	v := map[string]string{"dummy_cost": "4"}
	for k, x := range b.base {
		v[k] = x
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v[extra[i]] = extra[i+1]
	}
	return core.Options{Values: v, Dir: b.dir}
}

func (b backend) newProvider(t *testing.T, extra ...string) *sqlstore.Provider {
	t.Helper()
	p, err := sqlstore.New(b.options(extra...))
	require.NoError(t, err)
	sp := p.(*sqlstore.Provider)
	t.Cleanup(func() { sp.Close() })
	return sp
}

func (b backend) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	_, err := b.admin.Exec(query, args...)
	require.NoError(t, err, query)
}

// Hashes of "s3cret" as Debian's htpasswd -m and -s write them.
const (
	apr1S3cret = "$apr1$7O6BBuja$YcwTLmJmErJ4Uo6nTa1Ip0"
	shaS3cret  = "{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg="
)

// bcryptOf hashes with cost 4 and the $2y$ prefix Apache's htpasswd writes.
func bcryptOf(t *testing.T, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	require.NoError(t, err)
	return "$2y$" + string(h)[4:]
}

// seed creates the tables every case uses:
//
//	users        ann (bcrypt), bob ($apr1$), cid ({SHA}), dan (clear text),
//	             eve (NULL), twin (two rows)
//	user_groups  ann: staff, admins (and a NULL); bob: ops
//	accounts     other names: zed (active), old (inactive)
func seed(t *testing.T, b backend) {
	t.Helper()
	b.exec(t, "CREATE TABLE users (name TEXT NOT NULL, password TEXT)")
	b.exec(t, "CREATE TABLE user_groups (user_name TEXT NOT NULL, group_name TEXT)")
	b.exec(t, "CREATE TABLE accounts (login TEXT NOT NULL, pw_hash TEXT NOT NULL, active INTEGER NOT NULL)")
	insUser := fmt.Sprintf("INSERT INTO users (name, password) VALUES (%s, %s)", b.ph(1), b.ph(2))
	for _, u := range [][2]any{
		{"ann", bcryptOf(t, "pw-ann")},
		{"bob", apr1S3cret},
		{"cid", shaS3cret},
		{"dan", "cleartext"},
		{"eve", nil},
		{"twin", bcryptOf(t, "pw-twin")},
		{"twin", bcryptOf(t, "pw-twin")},
	} {
		b.exec(t, insUser, u[0], u[1])
	}
	insGroup := fmt.Sprintf("INSERT INTO user_groups (user_name, group_name) VALUES (%s, %s)", b.ph(1), b.ph(2))
	for _, g := range [][2]any{{"ann", "staff"}, {"ann", "admins"}, {"ann", nil}, {"bob", "ops"}} {
		b.exec(t, insGroup, g[0], g[1])
	}
	insAcct := fmt.Sprintf("INSERT INTO accounts (login, pw_hash, active) VALUES (%s, %s, %s)", b.ph(1), b.ph(2), b.ph(3))
	b.exec(t, insAcct, "zed", bcryptOf(t, "pw-zed"), 1)
	b.exec(t, insAcct, "old", bcryptOf(t, "pw-old"), 0)
}

// runCases runs every provider case against a seeded backend.
func runCases(t *testing.T, b backend) {
	ctx := context.Background()

	t.Run("verdicts", func(t *testing.T) {
		p := b.newProvider(t)
		for _, c := range []struct {
			user, pass string
			want       core.AuthResult
		}{
			{"ann", "pw-ann", core.Granted},
			{"ann", "pw-ann ", core.Denied},
			{"ann", "", core.Denied},
			{"bob", "s3cret", core.Granted},
			{"bob", "s3cret!", core.Denied},
			{"cid", "s3cret", core.Granted},
			{"cid", "", core.Denied},
			{"ANN", "pw-ann", core.UserNotFound},
			{"ghost", "pw-ann", core.UserNotFound},
			{"ghost", "", core.UserNotFound},
		} {
			before := p.DummyChecks()
			got, err := p.CheckPassword(ctx, c.user, c.pass)
			require.NoError(t, err, "%s/%q", c.user, c.pass)
			assert.Equal(t, c.want, got, "%s/%q", c.user, c.pass)
			// Unknown users pay the dummy hash; known users pay their own.
			wantDummy := int64(0)
			if c.want == core.UserNotFound {
				wantDummy = 1
			}
			assert.Equal(t, wantDummy, p.DummyChecks()-before, "dummy checks for %s", c.user)
		}
	})

	t.Run("injection", func(t *testing.T) {
		p := b.newProvider(t, "groups_query", "SELECT group_name FROM user_groups WHERE user_name = "+b.ph(1))
		// Spliced into the SQL, these would match every row (and the
		// duplicates would make it an error) or comment the check out.
		for _, user := range []string{"' OR '1'='1", "ann' --", "ann'; DROP TABLE users; --", `" OR "1"="1`} {
			for _, pass := range []string{"pw-ann", "' OR '1'='1"} {
				got, err := p.CheckPassword(ctx, user, pass)
				require.NoError(t, err, user)
				assert.Equal(t, core.UserNotFound, got, user)
			}
			g, err := p.Groups(ctx, user)
			require.NoError(t, err)
			assert.Empty(t, g, user)
		}
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got, "the users table is still there")
	})

	t.Run("duplicate rows are an error", func(t *testing.T) {
		p := b.newProvider(t)
		for _, pass := range []string{"pw-twin", "wrong"} {
			got, err := p.CheckPassword(ctx, "twin", pass)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `more than one row for user "twin"`)
			assert.NotEqual(t, core.Granted, got)
		}
	})

	t.Run("clear text refused unless allowed", func(t *testing.T) {
		p := b.newProvider(t)
		for _, pass := range []string{"cleartext", "other"} {
			got, err := p.CheckPassword(ctx, "dan", pass)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `user "dan"`)
			assert.Contains(t, err.Error(), "allow_plain")
			assert.NotContains(t, err.Error(), "cleartext", "the stored value is never in an error")
			assert.NotEqual(t, core.Granted, got)
		}
		p = b.newProvider(t, "allow_plain", "true")
		got, err := p.CheckPassword(ctx, "dan", "cleartext")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got)
		got, err = p.CheckPassword(ctx, "dan", "cleartex")
		require.NoError(t, err)
		assert.Equal(t, core.Denied, got)
		got, err = p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got, "hashes still work with allow_plain")
	})

	t.Run("NULL password is an error", func(t *testing.T) {
		p := b.newProvider(t)
		got, err := p.CheckPassword(ctx, "eve", "")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `user "eve"`)
		assert.NotEqual(t, core.Granted, got)
	})

	t.Run("custom query", func(t *testing.T) {
		p := b.newProvider(t, "query", "SELECT pw_hash FROM accounts WHERE login = "+b.ph(1)+" AND active = 1")
		for _, c := range []struct {
			user, pass string
			want       core.AuthResult
		}{
			{"zed", "pw-zed", core.Granted},
			{"zed", "pw-ann", core.Denied},
			{"old", "pw-old", core.UserNotFound},
			{"ann", "pw-ann", core.UserNotFound},
		} {
			got, err := p.CheckPassword(ctx, c.user, c.pass)
			require.NoError(t, err)
			assert.Equal(t, c.want, got, c.user)
		}
	})

	t.Run("groups", func(t *testing.T) {
		p := b.newProvider(t, "groups_query", "SELECT group_name FROM user_groups WHERE user_name = "+b.ph(1)+" ORDER BY group_name")
		for user, want := range map[string][]string{"ann": {"admins", "staff"}, "bob": {"ops"}, "ghost": nil} {
			g, err := p.Groups(ctx, user)
			require.NoError(t, err)
			assert.Equal(t, want, g, user)
		}
		g, err := b.newProvider(t).Groups(ctx, "ann")
		require.NoError(t, err)
		assert.Empty(t, g, "no groups_query, no groups")

		// Through the Basic chain, as a request sees it.
		r := basicRequest("ann", "pw-ann")
		id, err := (&basic.Basic{Providers: []core.PasswordProvider{p}}).Authenticate(r)
		require.NoError(t, err)
		require.NotNil(t, id)
		assert.Equal(t, []string{"admins", "staff"}, id.Groups)
	})

	t.Run("bad configuration fails New", func(t *testing.T) {
		for _, c := range []struct {
			extra []string
			want  string
		}{
			{[]string{"query", "SELECT name, password FROM users WHERE name = " + b.ph(1)}, "option query: it must return one column, not 2"},
			{[]string{"query", "SELECT password FROM users"}, "option query: it must take the user name"},
			{[]string{"query", "SELEC password FROM users WHERE name = " + b.ph(1)}, "option query"},
			{[]string{"query", "SELECT password FROM nosuchtable WHERE name = " + b.ph(1)}, "option query"},
			{[]string{"query", ""}, "option query: must not be empty"},
			{[]string{"groups_query", "SELECT group_name FROM nosuchtable WHERE user_name = " + b.ph(1)}, "option groups_query"},
			{[]string{"timeout", "soon"}, "option timeout"},
			{[]string{"timeout", "0s"}, "option timeout"},
			{[]string{"max_open", "0"}, "option max_open"},
			{[]string{"max_idle", "11"}, "option max_idle"},
			{[]string{"dummy_cost", "3"}, "option dummy_cost"},
			{[]string{"allow_plain", "maybe"}, "option allow_plain"},
			{[]string{"driver", "mysql"}, "option driver"},
			{[]string{"querry", "x"}, "unknown option querry"},
		} {
			_, err := sqlstore.New(b.options(c.extra...))
			require.Error(t, err, "%v", c.extra)
			assert.Contains(t, err.Error(), c.want, "%v", c.extra)
		}
		_, err := sqlstore.New(core.Options{Values: map[string]string{}})
		assert.ErrorContains(t, err, "option dsn is required")
	})

	t.Run("dropped table is an error", func(t *testing.T) {
		b.exec(t, "CREATE TABLE doomed (name TEXT NOT NULL, password TEXT)")
		b.exec(t, fmt.Sprintf("INSERT INTO doomed VALUES (%s, %s)", b.ph(1), b.ph(2)), "ann", bcryptOf(t, "pw-ann"))
		p := b.newProvider(t, "query", "SELECT password FROM doomed WHERE name = "+b.ph(1),
			"groups_query", "SELECT name FROM doomed WHERE name = "+b.ph(1))
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		require.Equal(t, core.Granted, got)
		b.exec(t, "DROP TABLE doomed")
		for _, pass := range []string{"pw-ann", "wrong"} {
			got, err = p.CheckPassword(ctx, "ann", pass)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "doomed")
			assert.NotEqual(t, core.Granted, got)
		}
		_, err = p.Groups(ctx, "ann")
		assert.Error(t, err)
	})
}

func basicRequest(user, pass string) *core.Request {
	return &core.Request{Header: testhost.BasicHeader(user, pass)}
}

// hasNoSecret fails if err's text holds s.
func hasNoSecret(t *testing.T, err error, s string) {
	t.Helper()
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), s), "error shows the secret: %v", err)
}
