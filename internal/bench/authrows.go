package main

// The authenticated rows every host has: Basic demo:demo against the demo's
// bcrypt (cost 10) user, once behind the credential cache (bcrypt once,
// then an HMAC look-up) and once with cache = false (bcrypt on every
// request), so each host's auth path and the price of a password check
// can be read apart.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// authHeader is demo:demo, the demo site's user.
const authHeader = "Authorization: Basic ZGVtbzpkZW1v"

// The paths of the two rows in authLocations.
const (
	authCachedPath = "/private/hello"
	authFreshPath  = "/fresh/hello"
)

// authFreshConns is wrk -c for the rows that run bcrypt on every request:
// one request per core. bcrypt serves tens of req/s, and 32 connections
// would only queue into wrk's 2 s timeout.
const authFreshConns = 2

// authCache turns the credential cache on for a site file's Basic auth.
const authCache = `[auth.cache]
ttl = "5m"
`

// authLocations are the demo site's /hello and /private (demo.users), and
// /fresh, the same with cache = false, as site file locations; a site
// using them starts with authCache.
const authLocations = `[[location]]
path = "/hello"
content = ["demo.hello"]

[[location]]
path = "/private"
content = ["demo.private"]

  [location.auth]
  realm = "anyhost demo"
  providers = ["demo.users"]
  require = ["valid-user"]

[[location]]
path = "/fresh"
content = ["demo.private"]

  [location.auth]
  realm = "anyhost demo"
  providers = ["demo.users"]
  require = ["valid-user"]
  cache = false
`

// authRowNames are the two rows' names for a host whose rows start with
// prefix ("module", "-> anyhost FastCGI").
func authRowNames(prefix string) (cached, fresh string) {
	return prefix + " /private/, Basic (cache on)", prefix + " /fresh/, Basic (cache off)"
}

// authNotes says what the two rows measure; where, if set, says how the
// host runs the auth phases.
func authNotes(where string) (cached, fresh string) {
	if where != "" {
		where = "; " + where
	}
	return "Basic demo:demo against demo.users (bcrypt cost 10) with [auth.cache] on: bcrypt once, then cached" + where,
		fmt.Sprintf("the same location with cache = false: bcrypt on every request; wrk -c%d (one request per core)%s", authFreshConns, where)
}

// authSiteFile writes the auth rows' site file into workDir, once per run,
// and returns its path.
func authSiteFile(workDir string) (string, error) {
	p := filepath.Join(workDir, "auth-site.toml")
	return buildOnce(p, func() error {
		return os.WriteFile(p, []byte("# Written by the anyhost benchmark (internal/bench/authrows.go).\n"+authCache+"\n"+authLocations), 0o644)
	})
}

// anyhostServe is a Target.Start for `anyhost serve` (standalone, no
// access log lines) on the auth rows' site, measured at path: with auth,
// as demo:demo on conns connections (0: --connections); with tls, over
// TLS, where it speaks HTTP/2 and h2load drives the row.
func anyhostServe(path string, auth bool, conns int, tls bool) func(context.Context, string) (*Running, error) {
	return func(ctx context.Context, workDir string) (*Running, error) {
		scheme := "http"
		if tls {
			scheme = "https"
		}
		r, err := startGoServer(ctx, workDir, "./cmd/anyhost", "anyhost", scheme, path, func(addr string) ([]string, error) {
			site, err := authSiteFile(workDir)
			if err != nil {
				return nil, err
			}
			args := []string{"serve", "--listen", addr, "--log-level", "warn", "--config", site}
			if tls {
				cert, key, err := benchCert(workDir)
				if err != nil {
					return nil, err
				}
				args = append(args, "--tls-cert", cert, "--tls-key", key)
			}
			return args, nil
		})
		if err != nil {
			return nil, err
		}
		if auth {
			r.Headers, r.Connections = []string{authHeader}, conns
		}
		if err := checkRow(ctx, r.URL, r.Headers); err != nil {
			return nil, errors.Join(err, r.Stop())
		}
		return r, nil
	}
}
