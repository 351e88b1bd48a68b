package main

// nginx rows: anyhost behind nginx (`anyhost serve --adapter nginx`: FastCGI
// content and its auth phases on a unix socket, auth_request over HTTP on
// another for content nginx serves itself), next to what
// nginx does alone (a static file, `return 200`) and to nginx proxying to a
// bare Go net/http server over pooled keep-alive connections.
//
// The group is one nginx instance (its own prefix under the work directory,
// free loopback port), started by the first row and stopped after the last,
// with the anyhost and barehello processes behind it. The nginx.conf is the
// product's own (`anyhost nginx conf --full`, on a bench site file), with
// the access log off and the static, return and proxy rows added to its
// server{}. nginx, anyhost and barehello all run in one cgroup: every row's
// CPU is nginx's (master and workers) plus both Go processes' (the one a
// row does not use idles).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

const (
	nginxGroup = "nginx"
	// The rows goal 3 compares.
	nginxHelloRow = "-> anyhost FastCGI /hello"
	nginxAuthzRow = "-> anyhost FastCGI /authz, access phase in the responder"
)

// nginxSite is the bench's site file: the auth rows' /hello, /private
// (cached) and /fresh (authrows.go), plus /authz and /proxy-authz whose access phase
// says OK without any credentials, so that the auth phases run (in the
// responder for /authz, in the auth_request endpoint for /proxy-authz) but
// nothing costly answers them.
const nginxSite = `# Written by the anyhost benchmark (internal/bench/nginx.go).
` + authCache + "\n" + authLocations + `
[[location]]
path = "/authz"
access = [{handler = "demo.status", options = {status = "ok"}}]
content = ["demo.hello"]

# nginx proxies /proxy-authz/hello to barehello; anyhost only answers its
# auth_request subrequest.
[[location]]
path = "/proxy-authz"
access = [{handler = "demo.status", options = {status = "ok"}}]
content = ["demo.hello"]

# The seed's row (e) behind nginx: hello.py through the cgi handler.
[[location]]
path = "/seed/anyhost-cgi"
content = [{handler = "cgi", options = {script = %q, max_concurrent = "64"}}]
`

func nginxBinary() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	return "/usr/sbin/nginx"
}

// nginxTargets returns the nginx group.
func nginxTargets() []Target {
	inst := &nginxShared{name: "nginx", start: startNginx}
	const cpuNote = "; CPU: the instance's cgroup (nginx master+workers, anyhost, barehello)"
	row := func(name, path string, auth, baseline bool, notes string) Target {
		return Target{Name: name, Group: nginxGroup, Baseline: baseline, Notes: notes, Start: inst.row(path, auth, 0)}
	}
	cachedName, freshName := authRowNames("-> anyhost FastCGI")
	cachedNote, freshNote := authNotes("in the responder, the same FastCGI round trip as the content")
	cached := row(cachedName, authCachedPath, true, false, cachedNote)
	fresh := row(freshName, authFreshPath, true, false, freshNote)
	fresh.Start = inst.row(authFreshPath, true, authFreshConns)
	seedRow := row(seedNginxRow, "/seed/anyhost-cgi", false, false,
		fmt.Sprintf("the seed's row (e) behind nginx: hello.py (internal/bench/seed.go) through handlers/cgi in the FastCGI responder; wrk -c%d", seedCGIConns))
	seedRow.Start = inst.row("/seed/anyhost-cgi", false, seedCGIConns)
	return []Target{
		row("static file", "/static.txt", false, true,
			"html/static.txt (\"Hello!\", "+helloType+"), sendfile off; one nginx (worker_processes 2) for the group, "+
				"`anyhost nginx conf --full` with access_log off"+cpuNote),
		row("return 200", "/return200", false, false, "location = /return200 { return 200 \"Hello!\"; }: nginx alone, no file"),
		row(nginxHelloRow, "/hello", false, false,
			"the product: `anyhost serve --adapter nginx`, FastCGI on a unix socket, fastcgi_keep_conn on, upstream keepalive 64"),
		row(nginxAuthzRow, "/authz", false, false,
			"as /hello, with an access handler that says OK (demo.status, no credentials): the auth phases in the same FastCGI round trip "+
				"(fastcgi_request_buffering off, as `anyhost nginx conf` writes for locations with auth)"),
		row("-> barehello, proxy_pass keepalive", "/proxy/hello", false, false,
			"proxy_pass to internal/bench/barehello over TCP loopback: upstream keepalive 64 and keepalive_requests 10000 as the product's upstreams, proxy_http_version 1.1, Connection \"\""),
		row("-> barehello, auth_request + proxy_pass", "/proxy-authz/hello", false, false,
			"the row above behind the product's auth location (auth_request to anyhost's auth endpoint, as the generated config's "+
				"comment shows for content nginx serves itself), whose access handler says OK"),
		optIn(row("-> anyhost FastCGI /hello, auth_request to nginx return 204", "/auth204/hello", false, false,
			"diagnostic: /hello behind an auth subrequest answered by nginx itself (internal location, `return 204`): "+
				"nginx's own subrequest cost, no upstream")),
		optIn(row("-> anyhost FastCGI /hello, auth_request proxied to nginx 204", "/authproxy204/hello", false, false,
			"diagnostic: /hello behind the product's auth location (same headers, upstream keepalive) pointed at a "+
				"second nginx server{} on a unix socket answering 204: the proxy-authz row minus this is what anyhost's auth endpoint costs")),
		seedRow,
		cached,
		fresh, // last: what it leaves in flight must not land in another row (see settle)
	}
}

func optIn(t Target) Target {
	t.OptIn = true
	return t
}

// nginxVersions names nginx for the report's header when an nginx row runs.
func nginxVersions(selected []Target) []string {
	for _, t := range selected {
		if t.Group == nginxGroup {
			return []string{cmdLine(nginxBinary(), "-v")}
		}
	}
	return nil
}

// nginxShared is a group's nginx instance (see shared), started by start.
type nginxShared struct {
	shared[*nginxInstance]
	name  string
	start func(ctx context.Context, workDir string) (*nginxInstance, error)
}

type nginxInstance struct {
	nginx, anyhost *Child   // anyhost: nil for the module's instance
	backend        *Running // nil for the module's instance
	cgroup         string
	dir, prefix    string
	base           string // http://127.0.0.1:PORT

	errorLog *logFollower
}

func (s *nginxShared) row(path string, auth bool, conns int) func(context.Context, string) (*Running, error) {
	return func(ctx context.Context, workDir string) (*Running, error) {
		inst, err := s.acquire(func() (*nginxInstance, error) { return s.start(ctx, workDir) })
		if err != nil {
			return nil, err
		}
		var headers []string
		if auth {
			headers = []string{authHeader}
		}
		url := inst.base + path
		if err := checkRow(ctx, url, headers); err != nil {
			return nil, errors.Join(fmt.Errorf("%w%s", err, inst.errorLogNote()), s.release())
		}
		var once sync.Once
		return &Running{URL: url, Headers: headers, Connections: conns, PIDs: inst.pids, Cgroup: inst.cgroup, Check: inst.check,
			Stop: func() (err error) {
				once.Do(func() { err = s.release() })
				return err
			}}, nil
	}
}

func (s *nginxShared) release() error { return s.shared.release(s.name) }

// startNginx builds anyhost, starts barehello and `anyhost serve --adapter
// nginx` in a new cgroup, writes the nginx.conf and starts nginx in the
// same cgroup, and waits until it serves the static file.
func startNginx(ctx context.Context, workDir string) (_ *nginxInstance, err error) {
	exe, err := GoBuild(ctx, workDir, "./cmd/anyhost", "anyhost")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(workDir, "nginx", "hello.py")
	inst, err := newNginxInstance(workDir, "nginx", fmt.Sprintf(nginxSite, script))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, inst.stop())
		}
	}()
	dir, prefix, html, site := inst.dir, inst.prefix, filepath.Join(inst.prefix, "html"), filepath.Join(inst.dir, "site.toml")
	if err := os.WriteFile(script, []byte(seedHelloPy), 0o755); err != nil {
		return nil, err
	}
	if inst.backend, err = startBackend(ctx, workDir, inst.cgroup); err != nil {
		return nil, fmt.Errorf("barehello for proxy_pass: %w", err)
	}

	fcgi, authSock := filepath.Join(dir, "fcgi.sock"), filepath.Join(dir, "auth.sock")
	listen := []string{"--listen", "unix:" + fcgi, "--auth-listen", "unix:" + authSock, "--config", site}
	if inst.anyhost, err = StartChildIn(workDir, "anyhost serve --adapter nginx", inst.cgroup, exe,
		append([]string{"serve", "--adapter", "nginx"}, append(listen,
			"--socket-group", "www-data", "--log-level", "warn", "--access-log=false")...)...); err != nil {
		return nil, err
	}
	if err := waitSockets(ctx, inst.anyhost, 20*time.Second, fcgi, authSock); err != nil {
		return nil, err
	}

	out, err := outputIn(ctx, repoRoot, exe, append([]string{"nginx", "conf"}, append(listen,
		"--full", "--prefix", prefix, "--server-listen", strings.TrimPrefix(inst.base, "http://"))...)...)
	if err != nil {
		return nil, err
	}
	conf, err := nginxBenchConf(string(out), html, strings.TrimSuffix(inst.backend.URL, "/hello"))
	if err != nil {
		return nil, err
	}
	if err := inst.startNginx(ctx, workDir, "nginx", conf); err != nil {
		return nil, err
	}
	logf("  nginx -p %s -c nginx.conf (pid %d), anyhost (pid %d), barehello %s", prefix,
		inst.nginx.Cmd.Process.Pid, inst.anyhost.Cmd.Process.Pid, inst.backend.URL)
	return inst, nil
}

// newNginxInstance lays out an instance's directories under workDir/name
// (reachable by nginx's workers, www-data), with html/static.txt and the
// site file, picks its port and makes its cgroup.
func newNginxInstance(workDir, name, site string) (*nginxInstance, error) {
	dir := filepath.Join(workDir, name)
	prefix := filepath.Join(dir, "prefix")
	html := filepath.Join(prefix, "html")
	if err := os.MkdirAll(html, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{workDir, dir, prefix, html} {
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(html, "static.txt"), []byte(helloBody), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "site.toml"), []byte(site), 0o644); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	inst := &nginxInstance{dir: dir, prefix: prefix, base: fmt.Sprintf("http://127.0.0.1:%d", port),
		errorLog: &logFollower{path: filepath.Join(prefix, "error.log")}}
	if inst.cgroup, err = newCgroup(name); err != nil {
		logf("warning: no cgroup for the %s instance (%v): its CPU comes from /proc", name, err)
		inst.cgroup = ""
	}
	return inst, nil
}

// startNginx writes conf as the instance's nginx.conf, starts nginx in its
// cgroup and waits until it serves the static file.
func (n *nginxInstance) startNginx(ctx context.Context, workDir, name, conf string) (err error) {
	if err := os.WriteFile(filepath.Join(n.prefix, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	if n.nginx, err = StartChildIn(workDir, name, n.cgroup, nginxBinary(),
		"-p", n.prefix, "-c", "nginx.conf", "-e", filepath.Join(n.prefix, "error.log"), "-g", "daemon off;"); err != nil {
		return err
	}
	if err := WaitAnswers(ctx, n.base+"/static.txt", 30*time.Second, n.nginx); err != nil {
		return fmt.Errorf("%w%s", err, n.errorLogNote())
	}
	return nil
}

var (
	accessLogRe   = regexp.MustCompile(`(?m)^(\s*)access_log\s[^;]*;`)
	serverCloseRe = regexp.MustCompile(`\n    }\n}\n*$`) // the end of server{} and http{}
	// authLocRe is the product's auth location, copied for the diagnostic
	// rows; helloLocRe is its `location = /hello` (content over FastCGI).
	authLocRe  = regexp.MustCompile(`(?s)\n        location = /\.anyhost-auth \{\n.*?\n        }\n`)
	helloLocRe = regexp.MustCompile(`(?s)\n        location = /hello \{\n(.*?)\n        }\n`)
)

// nginxBenchConf turns the product's nginx.conf into the bench's: no access
// log, and the static, return and proxy locations added to its server{}.
// backend is barehello's http://HOST:PORT.
func nginxBenchConf(conf, html, backend string) (string, error) {
	if !accessLogRe.MatchString(conf) || !serverCloseRe.MatchString(conf) || !authLocRe.MatchString(conf) || !helloLocRe.MatchString(conf) {
		return "", fmt.Errorf("anyhost nginx conf: unexpected output (no access_log line, server{} end, auth or /hello location):\n%s", conf)
	}
	conf = accessLogRe.ReplaceAllString(conf, "${1}access_log off;")
	// The diagnostic rows: /hello's FastCGI content behind an auth
	// subrequest answered by nginx, directly or through the product's auth
	// location pointed at a second nginx server{} on a unix socket.
	hello := strings.Replace(helloLocRe.FindStringSubmatch(conf)[1], "$request_uri;", "/hello;", 1)
	authProxy := strings.Replace(strings.Replace(strings.TrimPrefix(authLocRe.FindString(conf), "\n"),
		"/.anyhost-auth", "/.bench-auth-proxy", 1), "http://anyhost_auth;", "http://bench_auth204;", 1)
	sock204 := filepath.Join(filepath.Dir(html), "auth204.sock")
	diagLocs := fmt.Sprintf(`        location = /auth204/hello {
            auth_request /.bench-auth-204;
%[1]s
        }
        location = /.bench-auth-204 {
            internal;
            return 204;
        }
        location = /authproxy204/hello {
            auth_request /.bench-auth-proxy;
%[1]s
        }
%[2]s`, hello, authProxy)
	diagHTTP := fmt.Sprintf(`
    upstream bench_auth204 {
        server unix:%[1]s;
        keepalive 64;
        keepalive_requests 10000;
    }
    server {
        listen unix:%[1]s;
        access_log off;
        location / {
            return 204;
        }
    }
`, sock204)
	addr := strings.TrimPrefix(backend, "http://")
	proxy := `            proxy_pass http://bench_barehello/hello;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
`
	locations := fmt.Sprintf(`
        # ---- anyhost benchmark: the nginx-only and proxy_pass rows
        location = /static.txt {
            root %s;
            types { }
            default_type "%s";
            sendfile off;
        }
        location = /return200 {
            default_type "%[2]s";
            return 200 "%[3]s";
        }
        location = /proxy/hello {
%[4]s        }
        location = /proxy-authz/hello {
            set $anyhost_location /proxy-authz;
            auth_request /.anyhost-auth;
%[4]s        }
%[6]s    }

    upstream bench_barehello {
        server %[5]s;
        keepalive 64;
        keepalive_requests 10000;
    }
%[7]s}
`, html, helloType, helloBody, proxy, addr, diagLocs, diagHTTP)
	return serverCloseRe.ReplaceAllLiteralString(conf, "\n"+strings.TrimPrefix(locations, "\n")), nil
}

// waitSockets waits until every path exists (the Go process listens on
// them), the timeout passes, ctx ends or child exits.
func waitSockets(ctx context.Context, child *Child, timeout time.Duration, paths ...string) error {
	deadline := time.Now().Add(timeout)
	for {
		missing := ""
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				missing = p
				break
			}
		}
		switch {
		case missing == "":
			return nil
		case child.Exited():
			return fmt.Errorf("%s exited before creating %s (%v)%s", child.Name, missing, child.waitErr, stderrNote(child))
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("%s did not create %s within %s%s", child.Name, missing, timeout, stderrNote(child))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkRow GETs url once with headers and wants 200, text/plain;
// charset=utf-8 and a "Hello" body ("Hello, demo!" on /private/).
func checkRow(ctx context.Context, url string, headers []string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := checkClient(30 * time.Second).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "Hello") || resp.Header.Get("Content-Type") != helloType {
		return fmt.Errorf("GET %s: %s, Content-Type %q, body %.200q; want 200, %q and a body starting with Hello",
			url, resp.Status, resp.Header.Get("Content-Type"), body, helloType)
	}
	return nil
}

// pids are nginx's master (the driver adds its workers) and the Go processes.
func (n *nginxInstance) pids() []int {
	p := n.nginx.PIDs()
	if len(p) == 0 {
		return nil // nginx is gone: the row has no server
	}
	if n.anyhost != nil {
		p = append(p, n.anyhost.PIDs()...)
	}
	if n.backend != nil {
		p = append(p, n.backend.PIDs()...)
	}
	return p
}

var nginxLogProblemRe = regexp.MustCompile(`\[(error|crit|alert|emerg)\]|exited on signal`)

// check (Running.Check) fails the row just measured if nginx logged errors
// since the last call (a failed upstream connect, a crashed worker) or a Go
// process exited.
func (n *nginxInstance) check() error {
	n.settle()
	if n.anyhost != nil && n.anyhost.Exited() {
		return fmt.Errorf("anyhost serve --adapter nginx exited%s", stderrNote(n.anyhost))
	}
	b, err := n.errorLog.newLines()
	if err != nil {
		return err
	}
	var bad []string
	for _, l := range strings.Split(string(b), "\n") {
		if nginxLogProblemRe.MatchString(l) {
			bad = append(bad, "    "+l)
		}
	}
	if len(bad) > 0 {
		if len(bad) > 10 {
			bad = append(bad[:10], fmt.Sprintf("    ... and %d more", len(bad)-10))
		}
		return fmt.Errorf("nginx logged errors during the run (%s):\n%s", filepath.Join(n.prefix, "error.log"), strings.Join(bad, "\n"))
	}
	return nil
}

// settle waits until the instance is idle (settleCgroup).
func (n *nginxInstance) settle() { settleCgroup(n.cgroup) }

func (n *nginxInstance) errorLogNote() string {
	p := filepath.Join(n.prefix, "error.log")
	tail := fileTail(p, 2000)
	if tail == "" {
		return ""
	}
	return "; " + p + ":\n" + indent(tail, "    ")
}

// stop stops nginx (SIGTERM to its process group: master and workers), then
// anyhost and barehello, and removes the cgroup.
func (n *nginxInstance) stop() error {
	var errs []error
	for _, c := range []*Child{n.nginx, n.anyhost} {
		if c != nil {
			errs = append(errs, c.Stop())
		}
	}
	if n.backend != nil {
		errs = append(errs, n.backend.Stop())
	}
	if n.cgroup != "" {
		errs = append(errs, removeCgroup(n.cgroup))
	}
	return errors.Join(errs...)
}
