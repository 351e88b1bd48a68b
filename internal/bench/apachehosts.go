package main

// The Apache hosts besides directive-mode in-process (apache.go): the Go
// pipeline in Apache's hooks (AnyhostSite), daemon mode (mod_proxy_fcgi and
// mod_authnz_fcgi to `anyhost serve --adapter fastcgi`) and anyhost as a
// CGI program under mod_cgid. Each is an httpd of its own serving the auth
// rows' site (authrows.go), next to its own static file: AnyhostSite and
// directive mode cannot share an instance (with AnyhostSite every hook runs
// the site), and the CGI program and the daemon take the same paths.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// apacheHostGroup is an httpd instance serving the auth rows' site through
// conf, as the rows static file, /hello, cached and fresh (and extra, in
// between).
func apacheHostGroup(mpm, label, prefix, notes string, cgi bool, conf func(ctx context.Context, workDir, root, listen, cgroup string) (string, *Running, error), extra ...extraRow) []Target {
	group := "apache " + mpm + ": " + label
	inst := &apacheShared{spec: apacheSpec{label: label, mpm: mpm, conf: conf}}
	cachedName, freshName := authRowNames(prefix)
	cachedNote, freshNote := authNotes("")
	cachedConns := 0
	if cgi {
		cachedNote += "; the memory store is per process: under CGI every request is a miss, so wrk -c2 as the fresh row"
		cachedConns = authFreshConns
	}
	ts := []Target{
		{Name: "static file", Group: group, Baseline: true, Notes: apacheStaticNote(mpm), Start: inst.row("/static.txt", "")},
		{Name: prefix + " /hello", Group: group, Notes: notes, Start: inst.row("/hello", "")},
	}
	for _, e := range extra {
		ts = append(ts, Target{Name: e.name, Group: group, Notes: e.notes, Start: inst.row(e.path, "")})
	}
	return append(ts,
		Target{Name: cachedName, Group: group, Notes: cachedNote, Start: inst.authRow(authCachedPath, cachedConns)},
		Target{Name: freshName, Group: group, Notes: freshNote, Start: inst.authRow(authFreshPath, authFreshConns)},
	)
}

// extraRow is a "Hello!" row of an instance besides its static file and
// /hello.
type extraRow struct{ name, path, notes string }

// apacheSiteGroup: in-process, `anyhost apache conf --full` for an empty
// site plus `AnyhostSite` naming the auth rows' site, the way `apache conf`
// says to serve a site with [auth.cache].
func apacheSiteGroup(mpm string) []Target {
	return apacheHostGroup(mpm, "AnyhostSite", "AnyhostSite",
		"the product in-process with `AnyhostSite FILE` (the Go pipeline in Apache's hooks, auth in its access hook), "+
			"`anyhost apache conf --full --mpm "+mpm+"` for an empty site around it, its CustomLog line removed; "+
			"every request, the static file's too, passes the site's hooks",
		false, func(ctx context.Context, workDir, root, listen, _ string) (string, *Running, error) {
			exe, lib, err := anyhostApacheLib(ctx, workDir)
			if err != nil {
				return "", nil, err
			}
			empty := filepath.Join(root, "empty-site.toml")
			if err := os.WriteFile(empty, nil, 0o644); err != nil {
				return "", nil, err
			}
			site, err := authSiteFile(workDir)
			if err != nil {
				return "", nil, err
			}
			conf, err := productApacheConf(ctx, exe, lib, root, listen, mpm, "--config", empty)
			if err != nil {
				return "", nil, err
			}
			return conf + "AnyhostSite " + q(site) + "\n", nil, nil
		})
}

// apacheDaemonGroup: daemon mode as the product writes it, `anyhost apache
// conf --mode fastcgi --full` with the web server's secret, and `anyhost
// serve --adapter fastcgi --secret` on TCP loopback in the instance's
// cgroup.
func apacheDaemonGroup(mpm string) []Target {
	return apacheHostGroup(mpm, "daemon", "-> anyhost FastCGI",
		"daemon mode: `anyhost apache conf --mode fastcgi --full --secret-dir` (mod_proxy_fcgi, enablereuse=on; auth locations through "+
			"mod_authnz_fcgi's authorizer, then the responder), `anyhost serve --adapter fastcgi --secret`; CPU includes the Go process",
		false, func(ctx context.Context, workDir, root, listen, cgroup string) (string, *Running, error) {
			exe, err := GoBuild(ctx, workDir, "./cmd/anyhost", "anyhost")
			if err != nil {
				return "", nil, err
			}
			site, err := authSiteFile(workDir)
			if err != nil {
				return "", nil, err
			}
			secretDir := filepath.Join(root, "secret")
			if err := runIn(ctx, repoRoot, exe, "secret", "new", "--dir", secretDir); err != nil {
				return "", nil, err
			}
			fcgi, addr, err := startFastCGIBackend(ctx, workDir, exe, cgroup, site, "--secret", "file:"+filepath.Join(secretDir, "secret"))
			if err != nil {
				return "", nil, err
			}
			out, err := outputIn(ctx, repoRoot, exe, "apache", "conf", "--mode", "fastcgi", "--fastcgi", addr, "--full",
				"--root", root, "--listen", listen, "--mpm", mpm, "--secret-dir", secretDir, "--config", site)
			if err != nil {
				return "", nil, errors.Join(err, fcgi.Stop())
			}
			conf := customLogRe.ReplaceAllString(string(out), "")
			if strings.Contains(conf, "CustomLog") {
				return "", nil, errors.Join(errors.New("anyhost apache conf --mode fastcgi: could not remove its CustomLog line"), fcgi.Stop())
			}
			return conf, fcgi, nil
		})
}

// apacheCGIGroup: anyhost as a CGI program under mod_cgid, as a user
// deploys it: a wrapper in a script directory execs `anyhost serve
// --adapter cgi --config SITE --log-level warn`, CGIPassAuth On so the
// site's own Basic auth runs; the plain CGI program cgihello next to it.
func apacheCGIGroup(mpm string) []Target {
	plain := extraRow{"CGI hello (net/http/cgi)", "/cgi/hello",
		"internal/bench/cgihello (net/http/cgi) under the same mod_cgid: this host's plain CGI program"}
	return apacheHostGroup(mpm, "cgi", "anyhost CGI",
		"anyhost as a CGI program: one fork+exec of the anyhost binary per request (via a sh wrapper), ScriptAliasMatch for the site's paths, "+
			"CGIPassAuth On, ScriptSock under the instance root; CPU: the instance's cgroup, exited programs included",
		true, func(ctx context.Context, workDir, root, listen, _ string) (string, *Running, error) {
			exe, err := GoBuild(ctx, workDir, "./cmd/anyhost", "anyhost")
			if err != nil {
				return "", nil, err
			}
			plainCGI, err := GoBuild(ctx, workDir, "./internal/bench/cgihello", "cgihello")
			if err != nil {
				return "", nil, err
			}
			site, err := authSiteFile(workDir)
			if err != nil {
				return "", nil, err
			}
			wrapper, err := cgiWrapper(filepath.Join(root, "cgi-bin"), exe, site)
			if err != nil {
				return "", nil, err
			}
			mod := func(name, file string) string {
				return fmt.Sprintf("LoadModule %s %s\n", name, q(filepath.Join(apacheModDir, file)))
			}
			return apacheBaseConf(root, listen, mpm) + mod("alias_module", "mod_alias.so") + mod("cgid_module", "mod_cgid.so") +
				fmt.Sprintf("ScriptSock %s\nScriptAlias \"/cgi/hello\" %s\n", q(filepath.Join(root, "cgid.sock")), q(plainCGI)) +
				fmt.Sprintf("ScriptAliasMatch \"^/(hello$|private/|fresh/)\" %s\n", q(wrapper)) +
				fmt.Sprintf("<Directory %s>\n    Require all granted\n    CGIPassAuth On\n</Directory>\n", q(filepath.Dir(wrapper))), nil, nil
		}, plain)
}

// cgiWrapper copies the anyhost binary into dir (the web server's user
// must reach it) with the sh wrapper a cgi-bin would hold, and returns the
// wrapper's path.
func cgiWrapper(dir, exe, site string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	prog := filepath.Join(dir, "anyhost")
	if err := exec.Command("cp", exe, prog).Run(); err != nil {
		return "", fmt.Errorf("copying %s: %w", exe, err)
	}
	wrapper := filepath.Join(dir, "anyhost.cgi")
	text := fmt.Sprintf("#!/bin/sh\nexec %q serve --adapter cgi --config %q --log-level warn\n", prog, site)
	return wrapper, os.WriteFile(wrapper, []byte(text), 0o755)
}
