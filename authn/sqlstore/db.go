package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers database/sql driver "pgx"
	_ "modernc.org/sqlite"             // registers database/sql driver "sqlite"
)

// sqlDriver maps the driver option to the database/sql driver name.
var sqlDriver = map[string]string{"sqlite": "sqlite", "postgres": "pgx"}

// handle is one open pool with its prepared statements.
type handle struct {
	db            *sql.DB
	check, groups *sql.Stmt
	// file identifies the SQLite file the pool opened (device and inode).
	file fileID
}

type fileID struct{ dev, ino uint64 }

func statFile(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileID{}, fmt.Errorf("%s is not a regular file", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, nil
	}
	return fileID{uint64(st.Dev), st.Ino}, nil
}

// open connects, prepares both queries and runs them once for the user ""
// so that a wrong table, column count or parameter count shows now, not at
// the first login.
func (p *Provider) open() (*handle, error) {
	h := &handle{}
	if p.path != "" {
		id, err := statFile(p.path)
		if err != nil {
			return nil, fmt.Errorf("option dsn: database file: %w", err)
		}
		h.file = id
	}
	db, err := sql.Open(sqlDriver[p.driver], p.dsn)
	if err != nil {
		return nil, fmt.Errorf("option dsn: %w", err)
	}
	db.SetMaxOpenConns(p.maxOpen)
	db.SetMaxIdleConns(p.maxIdle)
	h.db = db
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("option dsn: cannot connect to the %s database: %w", p.driver, err)
	}
	if h.check, err = prepare(ctx, db, "query", p.query); err != nil {
		db.Close()
		return nil, err
	}
	if p.groupsQuery != "" {
		if h.groups, err = prepare(ctx, db, "groups_query", p.groupsQuery); err != nil {
			db.Close()
			return nil, err
		}
	}
	return h, nil
}

// prepare prepares query and runs it once to check that it takes the user
// name as its one parameter and returns one column.
func prepare(ctx context.Context, db *sql.DB, option, query string) (*sql.Stmt, error) {
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("option %s: %w", option, err)
	}
	rows, err := st.QueryContext(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("option %s: it must take the user name as its one parameter: %w", option, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("option %s: %w", option, err)
	}
	if len(cols) != 1 {
		return nil, fmt.Errorf("option %s: it must return one column, not %d", option, len(cols))
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("option %s: %w", option, err)
	}
	rows.Close()
	// SQLite ignores arguments the query has no parameter for, so a query
	// without one would answer every user with the same rows; asked with
	// no argument at all, a query that has its parameter fails.
	if rows, err := st.QueryContext(ctx); err == nil {
		rows.Close()
		return nil, fmt.Errorf("option %s: it must take the user name as its one parameter, and has none", option)
	}
	return st, nil
}

// handle returns the pool in service. For SQLite it first checks the file:
// a pool keeps reading a deleted file through its open descriptors, so a
// file that is gone or unreadable is an error, and a file replaced by
// another (a new database renamed into place) is reopened.
func (p *Provider) handle() (*handle, error) {
	p.mu.Lock()
	h := p.cur
	p.mu.Unlock()
	if h == nil {
		return nil, errClosed
	}
	if p.path == "" {
		return h, nil
	}
	id, err := statFile(p.path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: database file: %w", err)
	}
	if id == h.file {
		return h, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil, errClosed
	}
	if p.cur != h {
		return p.cur, nil // another request reopened it
	}
	nh, err := p.open()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: reopening the replaced database file: %w", err)
	}
	p.cur = nh
	// Queries already running on the old pool end within their timeout;
	// close it after that rather than under them.
	time.AfterFunc(p.timeout+time.Second, func() { h.db.Close() })
	return nh, nil
}
