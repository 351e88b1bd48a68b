// Package sqlstore checks passwords against users kept in a SQL table:
// SQLite by default (modernc.org/sqlite, pure Go, no cgo), PostgreSQL (pgx)
// when the users live on a shared server. The query is configurable; it gets
// the user name as its only parameter, never spliced into the SQL, and
// returns one row of one column holding a hash in a format htpasswd writes.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/anyhost/anyhost/authn/passhash"
	"github.com/anyhost/anyhost/core"
)

func init() {
	core.RegisterProvider("sqlstore", "users in a SQL table, SQLite or PostgreSQL (options driver, dsn, query, groups_query, timeout, max_open, max_idle, allow_plain, dummy_cost)", New)
}

// Defaults of the options.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultMaxOpen   = 10
	DefaultDummyCost = bcrypt.DefaultCost
)

// defaultQuery is the password query per driver; drivers differ only in
// how a parameter is written.
var defaultQuery = map[string]string{
	"sqlite":   "SELECT password FROM users WHERE name = ?",
	"postgres": "SELECT password FROM users WHERE name = $1",
}

// Provider checks passwords with one query per attempt against a pool of
// connections. It is safe for concurrent use.
type Provider struct {
	// driver is "sqlite" or "postgres".
	driver string
	// dsn is what database/sql opens (for SQLite, a file: URI built from
	// the path); it may carry a password and is never logged.
	dsn string
	// path is the SQLite file, "" for PostgreSQL.
	path               string
	query, groupsQuery string
	timeout            time.Duration
	maxOpen, maxIdle   int
	allowPlain         bool
	dummy              *passhash.Dummy

	mu  sync.Mutex
	cur *handle
}

// New builds a provider from options (see the README's sqlstore section):
//
//	driver        "sqlite" (default) or "postgres"
//	dsn           required. SQLite: the database file, relative to the site
//	              file's directory; it must exist and is opened read-only.
//	              PostgreSQL: a pgx connection string (URL or key=value).
//	              A value starting with env: or file: is a secret reference
//	              and resolved as one; a literal PostgreSQL dsn carrying a
//	              password is refused, since it would be a secret inline.
//	query         default "SELECT password FROM users WHERE name = ?" ($1
//	              for postgres): the user name is its one parameter; it
//	              returns at most one row of one column, the stored hash.
//	groups_query  optional; the user name is its one parameter; every row's
//	              one column is a group name. Enables `require group`.
//	timeout       per query, default 5s.
//	max_open      connections, default 10; max_idle default max_open.
//	allow_plain   default false: a stored value that is no known hash is an
//	              error, since it would be a password in clear.
//	dummy_cost    bcrypt cost of the hash unknown users pay, default 10: set
//	              it to the cost of the stored hashes.
//
// New connects and runs both queries once (for a user named ""), so a
// database that cannot be reached, a missing table or a malformed query
// fails start-up and `anyhost check` with an error naming the option. A
// PostgreSQL server that is down at start-up is such an error too; once
// started, a server that goes away makes requests fail (500) until it is
// back, when the pool reconnects by itself.
func New(o core.Options) (core.PasswordProvider, error) {
	if err := o.Check("driver", "dsn", "query", "groups_query", "timeout", "max_open", "max_idle", "allow_plain", "dummy_cost"); err != nil {
		return nil, err
	}
	p := &Provider{driver: o.String("driver", "sqlite")}
	if _, ok := defaultQuery[p.driver]; !ok {
		return nil, fmt.Errorf("option driver: %q is not sqlite or postgres", p.driver)
	}
	var err error
	if p.timeout, err = o.Duration("timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	if p.timeout <= 0 {
		return nil, fmt.Errorf("option timeout: must be more than 0")
	}
	if p.dsn, p.path, err = resolveDSN(o, p.driver, p.timeout); err != nil {
		return nil, err
	}
	p.query = o.String("query", defaultQuery[p.driver])
	if p.query == "" {
		return nil, fmt.Errorf("option query: must not be empty")
	}
	p.groupsQuery = o.String("groups_query", "")
	if p.maxOpen, err = o.Int("max_open", DefaultMaxOpen); err != nil {
		return nil, err
	}
	if p.maxOpen < 1 {
		return nil, fmt.Errorf("option max_open: must be at least 1")
	}
	if p.maxIdle, err = o.Int("max_idle", p.maxOpen); err != nil {
		return nil, err
	}
	if p.maxIdle < 0 || p.maxIdle > p.maxOpen {
		return nil, fmt.Errorf("option max_idle: must be between 0 and max_open (%d)", p.maxOpen)
	}
	if p.allowPlain, err = o.Bool("allow_plain", false); err != nil {
		return nil, err
	}
	cost, err := o.Int("dummy_cost", DefaultDummyCost)
	if err != nil {
		return nil, err
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("option dummy_cost: a bcrypt cost is between %d and %d", bcrypt.MinCost, bcrypt.MaxCost)
	}
	h, err := p.open()
	if err != nil {
		return nil, err
	}
	if p.dummy, err = passhash.NewDummy(cost); err != nil {
		h.db.Close()
		return nil, err
	}
	p.cur = h
	return p, nil
}

// CheckPassword implements core.PasswordProvider. No row is UserNotFound
// (after a dummy hash comparison, so that timing does not reveal which users
// exist); more than one row, a stored value that is no known hash, and any
// database failure are errors, never Denied.
func (p *Provider) CheckPassword(ctx context.Context, user, password string) (core.AuthResult, error) {
	h, err := p.handle()
	if err != nil {
		return core.Denied, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	rows, err := h.check.QueryContext(ctx, user)
	if err != nil {
		return core.Denied, fmt.Errorf("sqlstore: password query for user %q: %w", user, err)
	}
	defer rows.Close()
	var stored sql.NullString
	found := rows.Next()
	if found {
		if err := rows.Scan(&stored); err != nil {
			return core.Denied, fmt.Errorf("sqlstore: password query for user %q: %w", user, err)
		}
		if rows.Next() {
			return core.Denied, fmt.Errorf("sqlstore: password query returned more than one row for user %q; it must be unique", user)
		}
	}
	if err := rows.Err(); err != nil {
		return core.Denied, fmt.Errorf("sqlstore: password query for user %q: %w", user, err)
	}
	if !found {
		p.dummy.Check(password)
		return core.UserNotFound, nil
	}
	if !stored.Valid {
		return core.Denied, fmt.Errorf("sqlstore: user %q: the stored password is NULL", user)
	}
	// The parser's own errors quote the stored value; only the user is
	// named here, so no hash (or clear-text password) reaches a log.
	pw, err := passhash.Parse(stored.String, p.allowPlain)
	if err != nil {
		how := "; allow_plain = true accepts clear text"
		if p.allowPlain {
			how = ""
		}
		return core.Denied, fmt.Errorf("sqlstore: user %q: the stored password is not a valid hash (%s)%s", user, passhash.Formats, how)
	}
	if !pw.MatchesPassword(password) {
		return core.Denied, nil
	}
	return core.Granted, nil
}

// Groups implements core.GroupLister with groups_query; without it every
// user has no groups.
func (p *Provider) Groups(ctx context.Context, user string) ([]string, error) {
	if p.groupsQuery == "" {
		return nil, nil
	}
	h, err := p.handle()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	rows, err := h.groups.QueryContext(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: groups query for user %q: %w", user, err)
	}
	defer rows.Close()
	var groups []string
	for rows.Next() {
		var g sql.NullString
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("sqlstore: groups query for user %q: %w", user, err)
		}
		// A NULL group name cannot satisfy any rule: skipped.
		if g.Valid {
			groups = append(groups, g.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: groups query for user %q: %w", user, err)
	}
	return groups, nil
}

// DummyChecks counts the dummy hash comparisons paid for unknown users
// (exposed for tests and metrics).
func (p *Provider) DummyChecks() int64 { return p.dummy.Checks() }

// Close closes the connection pool. The provider answers errors after it.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil
	}
	err := p.cur.db.Close()
	p.cur = nil
	return err
}

var errClosed = errors.New("sqlstore: provider closed")

// Interface guards.
var (
	_ core.PasswordProvider = (*Provider)(nil)
	_ core.GroupLister      = (*Provider)(nil)
)
