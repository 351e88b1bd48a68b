package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/sqlstore"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/testhost"
)

// TestPostgres runs every case against a real PostgreSQL started for it,
// then the real `anyhost serve` against it, then stops it under a provider.
// One server for all: initdb is the slow part.
func TestPostgres(t *testing.T) {
	pg := testhost.StartPostgres(t)
	admin, err := sql.Open("pgx", pg.DSN())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	// The provider gets its dsn, password included, by reference only.
	t.Setenv("ANYHOST_TEST_PG_DSN", pg.DSN())
	b := backend{
		admin: admin,
		base:  map[string]string{"driver": "postgres", "dsn": "env:ANYHOST_TEST_PG_DSN"},
		dir:   t.TempDir(),
		ph:    func(i int) string { return fmt.Sprintf("$%d", i) },
	}
	seed(t, b)
	ctx := context.Background()

	runCases(t, b)

	t.Run("a literal dsn with a password is refused", func(t *testing.T) {
		keywords := fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=postgres sslmode=disable", pg.Port, pg.User, pg.Password)
		for _, dsn := range []string{pg.DSN(), keywords, strings.Replace(keywords, "password=", "password = ", 1)} {
			_, err := sqlstore.New(core.Options{Values: map[string]string{"driver": "postgres", "dsn": dsn}})
			hasNoSecret(t, err, pg.Password)
			assert.Contains(t, err.Error(), "option dsn: it carries a password")
		}
		// The same from a file reference is fine.
		dir := t.TempDir()
		writeFile(t, dir, "dsn", keywords+"\n")
		p, err := sqlstore.New(core.Options{Values: map[string]string{"driver": "postgres", "dsn": "file:dsn", "dummy_cost": "4"}, Dir: dir})
		require.NoError(t, err)
		defer p.(*sqlstore.Provider).Close()
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got)
	})

	t.Run("wrong database password fails New without showing it", func(t *testing.T) {
		t.Setenv("ANYHOST_TEST_PG_BAD", strings.Replace(pg.DSN(), pg.Password, "Wr0ngPassw0rd", 1))
		_, err := sqlstore.New(b.options("dsn", "env:ANYHOST_TEST_PG_BAD"))
		hasNoSecret(t, err, "Wr0ngPassw0rd")
		assert.Contains(t, err.Error(), "option dsn: cannot connect")
	})

	t.Run("a slow query is an error after the timeout", func(t *testing.T) {
		b.exec(t, "INSERT INTO users (name, password) VALUES ($1, $2)", "slow", bcryptOf(t, "pw-slow"))
		// pg_sleep runs on the row of "slow" only, so New's probe is quick.
		p := b.newProvider(t, "timeout", "300ms",
			"query", "SELECT password FROM users WHERE name = $1 AND (name <> 'slow' OR pg_sleep(5)::text = '')")
		got, err := p.CheckPassword(ctx, "slow", "pw-slow")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "timeout")
		assert.NotEqual(t, core.Granted, got)
		got, err = p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got, "the pool still serves after a cancelled query")
	})

	t.Run("serve", func(t *testing.T) {
		testServe(t, t.TempDir(), map[string]string{
			"driver":       "postgres",
			"dsn":          "env:ANYHOST_TEST_PG_DSN",
			"groups_query": "SELECT group_name FROM user_groups WHERE user_name = $1",
		}, pg.Stop)
	})
	pg.Restart(t) // from this test: the restarted server lives as long as it

	// The server goes away under a provider that was working, and comes
	// back.
	p := b.newProvider(t, "groups_query", "SELECT group_name FROM user_groups WHERE user_name = $1")
	t.Run("stopped server is an error, not Denied", func(t *testing.T) {
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		require.Equal(t, core.Granted, got)

		pg.Stop()
		for _, c := range [][2]string{{"ann", "pw-ann"}, {"ann", "wrong"}, {"ghost", "x"}} {
			got, err = p.CheckPassword(ctx, c[0], c[1])
			require.Error(t, err, c[0])
			assert.NotEqual(t, core.Granted, got)
			hasNoSecret(t, err, pg.Password)
		}
		_, err = p.Groups(ctx, "ann")
		require.Error(t, err)
		_, err = sqlstore.New(b.options())
		require.Error(t, err, "a server down at start-up fails New")
		assert.Contains(t, err.Error(), "option dsn: cannot connect")
	})
	pg.Restart(t)
	t.Run("the pool reconnects when the server is back", func(t *testing.T) {
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got)
		g, err := p.Groups(ctx, "ann")
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"staff", "admins"}, g)
	})
}
