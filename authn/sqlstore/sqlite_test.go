package sqlstore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/sqlstore"
	"github.com/anyhost/anyhost/core"
)

// newSQLite makes dir/name, a seeded SQLite database, and a backend that
// opens it by its path relative to dir, as a site file would.
func newSQLite(t *testing.T, dir, name string) backend {
	t.Helper()
	admin, err := sql.Open("sqlite", filepath.Join(dir, name))
	require.NoError(t, err)
	admin.SetMaxOpenConns(1)
	t.Cleanup(func() { admin.Close() })
	b := backend{
		admin: admin,
		base:  map[string]string{"dsn": name},
		dir:   dir,
		ph:    func(int) string { return "?" },
	}
	seed(t, b)
	return b
}

func TestSQLite(t *testing.T) {
	runCases(t, newSQLite(t, t.TempDir(), "users.db"))
}

func TestSQLiteFile(t *testing.T) {
	ctx := context.Background()

	t.Run("missing file fails New and is not created", func(t *testing.T) {
		dir := t.TempDir()
		_, err := sqlstore.New(core.Options{Values: map[string]string{"dsn": "nope.db"}, Dir: dir})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "option dsn")
		assert.Contains(t, err.Error(), "no such file")
		assert.NoFileExists(t, filepath.Join(dir, "nope.db"))
	})

	t.Run("dsn from an env reference", func(t *testing.T) {
		dir := t.TempDir()
		newSQLite(t, dir, "users.db")
		t.Setenv("ANYHOST_TEST_SQLITE_DSN", filepath.Join(dir, "users.db"))
		p, err := sqlstore.New(core.Options{Values: map[string]string{"dsn": "env:ANYHOST_TEST_SQLITE_DSN", "dummy_cost": "4"}, Dir: t.TempDir()})
		require.NoError(t, err)
		defer p.(*sqlstore.Provider).Close()
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got)
		_, err = sqlstore.New(core.Options{Values: map[string]string{"dsn": "env:ANYHOST_TEST_UNSET_DSN"}})
		assert.ErrorContains(t, err, "option dsn")
	})

	t.Run("removed file is an error", func(t *testing.T) {
		dir := t.TempDir()
		b := newSQLite(t, dir, "users.db")
		p := b.newProvider(t)
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		require.Equal(t, core.Granted, got)
		// Open descriptors would still read the deleted file.
		require.NoError(t, os.Remove(filepath.Join(dir, "users.db")))
		for _, pass := range []string{"pw-ann", "wrong"} {
			got, err = p.CheckPassword(ctx, "ann", pass)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "no such file")
			assert.NotEqual(t, core.Granted, got)
		}
	})

	t.Run("file replaced by garbage is an error", func(t *testing.T) {
		dir := t.TempDir()
		b := newSQLite(t, dir, "users.db")
		p := b.newProvider(t)
		garbage := filepath.Join(dir, "garbage")
		require.NoError(t, os.WriteFile(garbage, []byte("this is not a database, just some text long enough to have a header\n"), 0o644))
		require.NoError(t, os.Rename(garbage, filepath.Join(dir, "users.db")))
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a database")
		assert.NotEqual(t, core.Granted, got)
	})

	t.Run("file replaced by a directory is an error", func(t *testing.T) {
		dir := t.TempDir()
		b := newSQLite(t, dir, "users.db")
		p := b.newProvider(t)
		require.NoError(t, os.Remove(filepath.Join(dir, "users.db")))
		require.NoError(t, os.Mkdir(filepath.Join(dir, "users.db"), 0o755))
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a regular file")
		assert.NotEqual(t, core.Granted, got)
	})

	t.Run("file replaced by a new database is read", func(t *testing.T) {
		dir := t.TempDir()
		b := newSQLite(t, dir, "users.db")
		p := b.newProvider(t)
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		require.Equal(t, core.Granted, got)

		next := newSQLite(t, dir, "next.db")
		next.exec(t, "UPDATE users SET password = ? WHERE name = ?", bcryptOf(t, "pw-new"), "ann")
		require.NoError(t, os.Rename(filepath.Join(dir, "next.db"), filepath.Join(dir, "users.db")))
		got, err = p.CheckPassword(ctx, "ann", "pw-new")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got, "the new file is served without a restart")
		got, err = p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		assert.Equal(t, core.Denied, got)
	})

	t.Run("writes by another process are seen at once (WAL)", func(t *testing.T) {
		dir := t.TempDir()
		b := newSQLite(t, dir, "users.db")
		b.exec(t, "PRAGMA journal_mode=WAL")
		p := b.newProvider(t)
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		require.Equal(t, core.Granted, got)
		b.exec(t, "UPDATE users SET password = ? WHERE name = ?", bcryptOf(t, "pw-new"), "ann")
		b.exec(t, "INSERT INTO users (name, password) VALUES (?, ?)", "gus", apr1S3cret)
		got, err = p.CheckPassword(ctx, "ann", "pw-new")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got)
		got, err = p.CheckPassword(ctx, "gus", "s3cret")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got)
	})

	t.Run("a locked database is an error after the timeout", func(t *testing.T) {
		dir := t.TempDir()
		b := newSQLite(t, dir, "users.db")
		p := b.newProvider(t, "timeout", "200ms")
		conn, err := b.admin.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		// An exclusive transaction keeps readers out in rollback-journal
		// mode.
		_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
		require.NoError(t, err)
		got, err := p.CheckPassword(ctx, "ann", "pw-ann")
		require.Error(t, err)
		assert.NotEqual(t, core.Granted, got)
		_, err = conn.ExecContext(ctx, "ROLLBACK")
		require.NoError(t, err)
		got, err = p.CheckPassword(ctx, "ann", "pw-ann")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got, "the lock gone, the same provider answers")
	})

	t.Run("closed provider is an error", func(t *testing.T) {
		b := newSQLite(t, t.TempDir(), "users.db")
		p := b.newProvider(t)
		require.NoError(t, p.Close())
		_, err := p.CheckPassword(ctx, "ann", "pw-ann")
		assert.ErrorContains(t, err, "closed")
	})

	t.Run("registered", func(t *testing.T) {
		b := newSQLite(t, t.TempDir(), "users.db")
		p, err := core.NewProvider("sqlstore", b.options())
		require.NoError(t, err)
		defer p.(*sqlstore.Provider).Close()
		got, err := p.CheckPassword(ctx, "bob", "s3cret")
		require.NoError(t, err)
		assert.Equal(t, core.Granted, got)
	})
}
