package sqlstore

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/anyhost/anyhost/core"
)

// resolveDSN turns the dsn option into what database/sql opens, and for
// SQLite the file's path.
//
// A value starting with env: or file: is a secret reference (the way a dsn
// that carries a password is given); anything else is taken literally, and
// a literal PostgreSQL dsn with a password in it is refused. SQLite's own
// "file:" URI form is therefore not accepted: the provider builds the URI.
func resolveDSN(o core.Options, driver string, timeout time.Duration) (dsn, path string, err error) {
	v, err := o.Required("dsn")
	if err != nil {
		return "", "", err
	}
	secret := strings.HasPrefix(v, "env:") || strings.HasPrefix(v, "file:")
	if secret {
		if v, err = o.Secret("dsn"); err != nil {
			return "", "", fmt.Errorf("option dsn: %w", err)
		}
		if v == "" {
			return "", "", fmt.Errorf("option dsn: the reference resolves to an empty value")
		}
	}
	switch driver {
	case "postgres":
		if !secret && hasPassword(v) {
			return "", "", fmt.Errorf("option dsn: it carries a password; give the dsn as a secret reference (env:NAME or file:PATH)")
		}
		return v, "", nil
	default:
		path = v
		if !filepath.IsAbs(path) {
			path = filepath.Join(o.Dir, path)
		}
		if path, err = filepath.Abs(path); err != nil {
			return "", "", fmt.Errorf("option dsn: %w", err)
		}
		return sqliteURI(path, timeout), path, nil
	}
}

// sqliteURI opens the file read-only (the provider never writes, and a
// missing file must not be created empty) and waits for a writer's lock up
// to the query timeout.
func sqliteURI(path string, timeout time.Duration) string {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_pragma", fmt.Sprintf("busy_timeout(%d)", timeout/time.Millisecond))
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// hasPassword reports whether a PostgreSQL connection string, in URL or
// key=value form, sets a password.
func hasPassword(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// Unparseable: pgx will refuse it too; do not let a
			// password through on a parse quirk.
			return strings.Contains(dsn, "@")
		}
		if _, set := u.User.Password(); set {
			return true
		}
		return u.Query().Has("password")
	}
	return passwordKey.MatchString(dsn)
}

// passwordKey finds the password keyword of the key=value form, spaces
// around the equals sign allowed.
var passwordKey = regexp.MustCompile(`(^|\s)password\s*=`)
