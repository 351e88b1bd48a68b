package main

// Apache rows: anyhost in-process inside Apache httpd, next to what Apache
// itself offers (a static file, mod_proxy_http, CGI) and to the embedded
// language modules anyhost is measured against (mod_perl2, mod_python,
// mod_wsgi), each under mpm_event and mpm_prefork.
//
// Every group is one httpd instance of its own (its own ServerRoot under the
// work directory, free loopback port, pid file, error log), started once by
// the first of its rows and stopped after the last: its rows are URLs of
// that instance, and its baseline is the instance's own static file. All
// instances share the core settings of `anyhost apache conf --full` and the
// tail written by apacheTail (MPM sizes, static file), and none writes an
// access log.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// apacheModDir is where Debian's apache2 packages install modules.
const apacheModDir = "/usr/lib/apache2/modules"

// helloBody and helloType are what every Apache row answers, so that
// responses are the same size.
const (
	helloBody = "Hello!"
	helloType = "text/plain; charset=utf-8"
)

var apacheMPMs = []string{"event", "prefork"}

// apacheTargets returns the Apache groups, event first, then prefork.
func apacheTargets() []Target {
	var ts []Target
	for _, mpm := range apacheMPMs {
		ts = append(ts, apacheAnyhostGroup(mpm)...)
		for _, a := range apacheAnchors {
			ts = append(ts, apacheAnchorGroup(mpm, a)...)
		}
		ts = append(ts, seedTargets(mpm)...)
		ts = append(ts, apacheSiteGroup(mpm)...)
		if mpm == "event" { // the matrix's apache-daemon and cgi-apache
			ts = append(ts, apacheDaemonGroup(mpm)...)
			ts = append(ts, apacheCGIGroup(mpm)...)
		}
	}
	for i := range ts {
		// mpm_event closes a child's idle keep-alive connections when all
		// its workers are busy; a request wrk sends on one just then is a
		// read error. Seen on every row under load, most on the slower ones.
		ts[i].AllowKeepAliveCloses = strings.HasPrefix(ts[i].Group, "apache event:")
	}
	return ts
}

func apacheStaticNote(mpm string) string {
	sizes := "StartServers 2, ThreadsPerChild 25, Min/MaxSpareThreads 50/75, MaxRequestWorkers 150"
	if mpm == "prefork" {
		sizes = "40 children: Start/MinSpare/MaxSpareServers and MaxRequestWorkers 40"
	}
	note := "htdocs/static.txt (\"Hello!\", text/plain; charset=utf-8), EnableMMAP Off, EnableSendfile Off. " +
		"Every Apache group is its own httpd: core settings of `anyhost apache conf --full`, no access log, ServerTokens Prod, mpm_" +
		mpm + " " + sizes + "; CPU: the instance's cgroup (all its processes, exited ones too); ctx switches: the httpd parent and its live descendants"
	if mpm == "event" {
		note += ". mpm_event closes a child's idle keep-alive connections when all its workers are busy: " +
			"wrk counts a request sent on one as a read error; up to 1% of requests are allowed (a crashed child fails the run: its error.log is checked after each)"
	}
	return note
}

func apacheAnyhostGroup(mpm string) []Target {
	group := "apache " + mpm + ": anyhost"
	inst := &apacheShared{spec: apacheSpec{label: "anyhost", mpm: mpm,
		conf: func(ctx context.Context, workDir, root, listen, cgroup string) (string, *Running, error) {
			return anyhostApacheConf(ctx, workDir, root, listen, cgroup, mpm)
		}}}
	return []Target{
		{
			Name: "static file", Group: group, Baseline: true,
			Notes: apacheStaticNote(mpm),
			Start: inst.row("/static.txt", ""),
		},
		{
			Name: "anyhost in-process /hello", Group: group,
			Notes: "the product: `anyhost apache conf --full --mpm " + mpm + "` (demo site, GOMAXPROCS default), its CustomLog line removed",
			Start: inst.row("/hello", ""),
		},
		{
			Name: "mod_proxy_http -> barehello", Group: group,
			Notes: "ProxyPass /proxy/ to internal/bench/barehello (pooled keep-alive backend connections); CPU includes the barehello process",
			Start: inst.row("/proxy/hello", "barehello"),
		},
		{
			Name: "mod_proxy_fcgi -> anyhost FastCGI", Group: group,
			Notes: "daemon mode: `anyhost serve --adapter fastcgi` on TCP loopback, <Location /fcgi> ProxyPass fcgi:// with " +
				"the one worker's enablereuse=on, as `anyhost apache conf --mode fastcgi` writes it; CPU includes the Go process",
			Start: inst.row("/fcgi/hello", "fastcgi"),
		},
		{
			Name: "CGI hello via mod_cgid", Group: group,
			Notes: "internal/bench/cgihello (net/http/cgi), one fork+exec per request (Apache sends it chunked); ScriptSock under the instance root",
			Start: inst.row("/cgi/hello", ""),
		},
	}
}

// apacheAnchor is an embedded-language module from Debian, run in an httpd
// of its own next to that instance's static file.
type apacheAnchor struct {
	label   string   // group suffix and directory name
	module  string   // LoadModule name
	so      string   // file in apacheModDir
	pkg     string   // Debian package that ships it
	version []string // command printing the language's version
	row     string
	notes   string
	// conf writes the handler's files under root and returns its directives.
	conf func(root string) (string, error)
}

var apacheAnchors = []apacheAnchor{
	{
		label: "mod_perl2", module: "perl_module", so: "mod_perl.so", pkg: "libapache2-mod-perl2",
		version: []string{"perl", "-e", `print "perl $^V"`},
		row:     "mod_perl2 response handler",
		notes:   "SetHandler modperl + PerlResponseHandler (a preloaded module; no %ENV set-up, no CGI emulation)",
		conf: func(root string) (string, error) {
			dir := filepath.Join(root, "perl")
			if err := writeFiles(dir, map[string]string{"BenchHello.pm": perlHello}); err != nil {
				return "", err
			}
			// PerlSwitches passes its argument as is: no quotes.
			return fmt.Sprintf(`PerlSwitches -I%s
PerlModule BenchHello
<Location "/hello">
    SetHandler modperl
    PerlResponseHandler BenchHello
</Location>
`, dir), nil
		},
	},
	{
		label: "mod_python", module: "python_module", so: "mod_python.so", pkg: "libapache2-mod-python",
		version: []string{"python3", "--version"},
		row:     "mod_python handler",
		notes:   "SetHandler mod_python + PythonHandler (a native handler, not the publisher), PythonImport at child start, PythonAutoReload Off",
		conf: func(root string) (string, error) {
			dir := filepath.Join(root, "python")
			if err := writeFiles(dir, map[string]string{"benchhello.py": pythonHello}); err != nil {
				return "", err
			}
			// PythonImport loads the handler when a child starts (in the
			// interpreter requests use: named after ServerName), as
			// PerlModule and anyhost's child_init do.
			return fmt.Sprintf(`PythonOption mod_python.mutex_directory %s
PythonPath "sys.path + ['%s']"
PythonImport benchhello 127.0.0.1
<Location "/hello">
    SetHandler mod_python
    PythonHandler benchhello
    PythonAutoReload Off
</Location>
`, q(root), dir), nil
		},
	},
	{
		label: "mod_wsgi", module: "wsgi_module", so: "mod_wsgi.so", pkg: "libapache2-mod-wsgi-py3",
		version: []string{"python3", "--version"},
		row:     "mod_wsgi embedded",
		notes:   "WSGIScriptAlias /hello to a plain WSGI application, embedded mode (no WSGIDaemonProcess), main interpreter, WSGIImportScript at child start, WSGIScriptReloading Off",
		conf: func(root string) (string, error) {
			dir := filepath.Join(root, "wsgi")
			if err := writeFiles(dir, map[string]string{"hello.wsgi": wsgiHello}); err != nil {
				return "", err
			}
			// WSGIImportScript loads the application when a child starts, as
			// PerlModule and anyhost's child_init do; that needs the main
			// interpreter (application group %{GLOBAL}).
			script := q(filepath.Join(dir, "hello.wsgi"))
			return fmt.Sprintf("WSGIScriptReloading Off\nWSGIApplicationGroup %%{GLOBAL}\n"+
				"WSGIImportScript %s process-group=%%{GLOBAL} application-group=%%{GLOBAL}\n"+
				"WSGIScriptAlias /hello %s\n", script, script), nil
		},
	},
}

const perlHello = `package BenchHello;
use strict;
use warnings;
use Apache2::RequestRec ();
use Apache2::RequestIO ();
use Apache2::Response ();
use Apache2::Const -compile => qw(OK);

my $body = 'Hello!';

sub handler {
    my $r = shift;
    $r->content_type('text/plain; charset=utf-8');
    $r->set_content_length(length $body);
    $r->print($body);
    return Apache2::Const::OK;
}

1;
`

const pythonHello = `from mod_python import apache

BODY = b"Hello!"


def handler(req):
    req.content_type = "text/plain; charset=utf-8"
    req.set_content_length(len(BODY))
    req.write(BODY, 0)
    return apache.OK
`

const wsgiHello = `BODY = b"Hello!"
HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
`

func apacheAnchorGroup(mpm string, a apacheAnchor) []Target {
	group := "apache " + mpm + ": " + a.label
	inst := &apacheShared{spec: apacheSpec{label: a.label, mpm: mpm, conf: func(_ context.Context, _, root, listen, _ string) (string, *Running, error) {
		so := filepath.Join(apacheModDir, a.so)
		if _, err := os.Stat(so); err != nil {
			return "", nil, fmt.Errorf("%s is missing: install Debian's %s (make bench-deps)", so, a.pkg)
		}
		directives, err := a.conf(root)
		if err != nil {
			return "", nil, err
		}
		return apacheBaseConf(root, listen, mpm) + fmt.Sprintf("LoadModule %s %s\n", a.module, q(so)) + directives, nil, nil
	}}}
	return []Target{
		{
			Name: "static file", Group: group, Baseline: true,
			Notes: apacheStaticNote(mpm),
			Start: inst.row("/static.txt", ""),
		},
		{
			Name: a.row, Group: group,
			Notes: a.notes + " (" + a.pkg + ")",
			Start: inst.row("/hello", ""),
		},
	}
}

// ---------------------------------------------------------------- configs

// q quotes a path for httpd.conf (paths here never contain quotes).
func q(s string) string { return `"` + s + `"` }

func writeFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// apacheBaseConf is the start of a hand-written httpd.conf: the same core
// settings as `anyhost apache conf --full` writes, without its access log.
func apacheBaseConf(root, listen, mpm string) string {
	mod := func(name, file string) string {
		return fmt.Sprintf("LoadModule %s %s\n", name, q(filepath.Join(apacheModDir, file)))
	}
	return fmt.Sprintf("# Written by the anyhost benchmark (internal/bench/apache.go).\n"+
		"ServerRoot %[1]s\nListen %[2]s\nServerName 127.0.0.1\nPidFile %[3]s\nErrorLog %[4]s\nLogLevel warn\n"+
		"DefaultRuntimeDir %[1]s\nMutex file:%[5]s default\n",
		q(root), listen, q(filepath.Join(root, "httpd.pid")), q(filepath.Join(root, "error.log")), root) +
		mod("mpm_"+mpm+"_module", "mod_mpm_"+mpm+".so") +
		mod("authz_core_module", "mod_authz_core.so") +
		mod("mime_module", "mod_mime.so") +
		mod("reqtimeout_module", "mod_reqtimeout.so") +
		fmt.Sprintf("User www-data\nGroup www-data\nTypesConfig /etc/mime.types\nDocumentRoot %s\n", q(filepath.Join(root, "htdocs"))) +
		"Timeout 60\nKeepAlive On\nKeepAliveTimeout 120\nLimitRequestFieldSize 65536\nLimitRequestLine 65536\n" +
		"RequestReadTimeout header=10 body=60\n"
}

// apacheTail is appended to every instance's httpd.conf: the MPM sizes and
// the static file, identical everywhere. ServerTokens Prod makes the Server
// header the same size whatever modules an instance loads.
func apacheTail(mpm string) string {
	s := "\n# ---- anyhost benchmark: common to every Apache instance\n" +
		"ServerTokens Prod\nEnableMMAP Off\nEnableSendfile Off\n" +
		"<Files \"static.txt\">\n    ForceType \"" + helloType + "\"\n</Files>\n"
	if mpm == "prefork" {
		return s + "StartServers 40\nMinSpareServers 40\nMaxSpareServers 40\nMaxRequestWorkers 40\n"
	}
	return s + "StartServers 2\nThreadsPerChild 25\nMinSpareThreads 50\nMaxSpareThreads 75\nMaxRequestWorkers 150\n"
}

var customLogRe = regexp.MustCompile(`(?m)^\s*CustomLog\s.*\n`)

// anyhostApacheConf is the product's own httpd.conf (`anyhost apache conf
// --full`, demo site) without its access log, plus the proxy and CGI rows.
// productApacheConf is `anyhost apache conf --full` for the instance (and
// the site file args name; the demo site without), without its access log.
func productApacheConf(ctx context.Context, exe, lib, root, listen, mpm string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, exe, append([]string{"apache", "conf", "--lib-dir", lib, "--full",
		"--root", root, "--listen", listen, "--mpm", mpm}, args...)...)
	cmd.Dir = repoRoot
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("anyhost apache conf: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	conf := customLogRe.ReplaceAllString(string(out), "")
	if strings.Contains(conf, "CustomLog") {
		return "", errors.New("anyhost apache conf: could not remove its CustomLog line")
	}
	return conf, nil
}

// anyhostApacheLib builds the anyhost binary and, once per run, the
// Apache module and library (`anyhost apache build`).
func anyhostApacheLib(ctx context.Context, workDir string) (exe, lib string, err error) {
	exe, err = GoBuild(ctx, workDir, "./cmd/anyhost", "anyhost")
	if err != nil {
		return "", "", err
	}
	lib, err = buildOnce(filepath.Join(workDir, "apache-lib"), func() error {
		start := time.Now()
		logf("building mod_anyhost.so and anyhost-app.so (anyhost apache build; ~35 s cold)")
		if err := runIn(ctx, repoRoot, exe, "apache", "build", "-o", filepath.Join(workDir, "apache-lib")); err != nil {
			return err
		}
		logf("built the Apache module and library in %.1fs", time.Since(start).Seconds())
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return exe, lib, nil
}

func anyhostApacheConf(ctx context.Context, workDir, root, listen, cgroup, mpm string) (string, *Running, error) {
	exe, lib, err := anyhostApacheLib(ctx, workDir)
	if err != nil {
		return "", nil, err
	}
	cgi, err := GoBuild(ctx, workDir, "./internal/bench/cgihello", "cgihello")
	if err != nil {
		return "", nil, err
	}
	conf, err := productApacheConf(ctx, exe, lib, root, listen, mpm)
	if err != nil {
		return "", nil, err
	}

	backend, err := startBackend(ctx, workDir, cgroup)
	if err != nil {
		return "", nil, fmt.Errorf("barehello for mod_proxy_http: %w", err)
	}
	site := filepath.Join(root, "fastcgi-site.toml")
	if err := os.WriteFile(site, []byte(apacheFastCGISite), 0o644); err != nil {
		return "", nil, errors.Join(err, backend.Stop())
	}
	fcgi, fcgiAddr, err := startFastCGIBackend(ctx, workDir, exe, cgroup, site)
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("anyhost FastCGI for mod_proxy_fcgi: %w", err), backend.Stop())
	}
	backends := &Running{
		PIDs:  func() []int { return append(backend.PIDs(), fcgi.PIDs()...) },
		Stop:  func() error { return errors.Join(fcgi.Stop(), backend.Stop()) },
		parts: map[string]func() []int{"barehello": backend.PIDs, "fastcgi": fcgi.PIDs},
	}
	backendURL := strings.TrimSuffix(backend.URL, "/hello") + "/"
	mod := func(name, file string) string {
		return fmt.Sprintf("<IfModule !%s>\n    LoadModule %s %s\n</IfModule>\n", name, name, q(filepath.Join(apacheModDir, file)))
	}
	fcgiURL := q("fcgi://" + fcgiAddr + "/")
	conf += "\n# ---- anyhost benchmark: the mod_proxy_http, mod_proxy_fcgi and CGI rows\n" +
		mod("proxy_module", "mod_proxy.so") + mod("proxy_http_module", "mod_proxy_http.so") +
		mod("proxy_fcgi_module", "mod_proxy_fcgi.so") +
		mod("alias_module", "mod_alias.so") + mod("cgid_module", "mod_cgid.so") +
		fmt.Sprintf("ProxyPass \"/proxy/\" %q\n", backendURL) +
		// As `anyhost apache conf --mode fastcgi` writes a location
		// without auth.
		fmt.Sprintf("<Proxy %s>\n    ProxySet enablereuse=on\n</Proxy>\n<Location \"/fcgi\">\n    ProxyPass %[1]s\n"+
			"    ProxyFCGISetEnvIf \"true\" !ANYHOST_USER\n    ProxyFCGISetEnvIf \"true\" !ANYHOST_AUTH_TYPE\n"+
			"    ProxyFCGISetEnvIf \"true\" !ANYHOST_AUTH_DONE\n</Location>\n", fcgiURL) +
		fmt.Sprintf("ScriptSock %s\nScriptAlias \"/cgi/hello\" %s\n", q(filepath.Join(root, "cgid.sock")), q(cgi))
	return conf, backends, nil
}

// apacheFastCGISite is the site `anyhost serve --adapter fastcgi` serves to
// the mod_proxy_fcgi row: mod_proxy_fcgi passes the client's URI, so the
// demo hello sits at /fcgi/hello.
const apacheFastCGISite = `# Written by the anyhost benchmark (internal/bench/apache.go).
[[location]]
path = "/fcgi/hello"
content = ["demo.hello"]
`

// startFastCGIBackend starts `anyhost serve --adapter fastcgi` on a free
// loopback port (TCP, as mod_authnz_fcgi needs and `anyhost apache conf
// --mode fastcgi` assumes) in the instance's cgroup, serving the site file
// site, with extra arguments.
func startFastCGIBackend(ctx context.Context, workDir, exe, cgroup, site string, extra ...string) (*Running, string, error) {
	port, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	child, err := StartChildIn(workDir, "anyhost serve --adapter fastcgi", cgroup, exe,
		append([]string{"serve", "--adapter", "fastcgi", "--listen", addr, "--config", site, "--log-level", "warn", "--access-log=false"}, extra...)...)
	if err != nil {
		return nil, "", err
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if child.Exited() || ctx.Err() != nil || time.Now().After(deadline) {
			return nil, "", errors.Join(fmt.Errorf("not listening on %s: %v%s", addr, err, stderrNote(child)), child.Stop())
		}
	}
	return &Running{PIDs: child.PIDs, Stop: child.Stop}, addr, nil
}

// startBackend starts barehello, the mod_proxy_http backend, in the
// instance's cgroup, so that the instance's CPU includes it.
func startBackend(ctx context.Context, workDir, cgroup string) (*Running, error) {
	exe, err := GoBuild(ctx, workDir, "./internal/bench/barehello", "barehello")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	child, err := StartChildIn(workDir, "barehello (proxy backend)", cgroup, exe, "--listen", addr)
	if err != nil {
		return nil, err
	}
	url := "http://" + addr + "/hello"
	if err := WaitAnswers(ctx, url, 20*time.Second, child); err != nil {
		return nil, errors.Join(err, child.Stop())
	}
	return &Running{URL: url, PIDs: child.PIDs, Stop: child.Stop}, nil
}

// ---------------------------------------------------------------- instances

// apacheSpec describes one httpd instance.
type apacheSpec struct {
	label string // "anyhost", "mod_perl2", ...: directory and process names
	mpm   string // "event" or "prefork"
	// conf writes what the instance needs under root and returns its
	// httpd.conf (apacheTail is appended). It may start a backend, which is
	// stopped with the instance; it stops it itself when it fails.
	conf func(ctx context.Context, workDir, root, listen, cgroup string) (string, *Running, error)
}

// apacheShared is one httpd instance that serves all rows of a group: the
// first row's Start starts it, the last row's Stop stops it. A failed start
// is not retried: every row of the group reports the same error.
type apacheShared struct {
	spec apacheSpec
	shared[*apacheInstance]
}

type apacheInstance struct {
	child   *Child
	pid     int    // the httpd parent, from its pid file
	cgroup  string // cgroup v2 directory of httpd and backend ("" if none could be made)
	root    string
	base    string   // http://127.0.0.1:PORT
	backend *Running // may be nil

	errorLog *logFollower // error.log, for checkCrashes
}

// row is the Start of a target that is the URL path of this instance; with
// backend (a name in the instance backend's parts), that backend's CPU
// counts too, and is reported on its own.
func (s *apacheShared) row(path, backend string) func(context.Context, string) (*Running, error) {
	return s.rowWith(path, backend, false, 0)
}

// authRow is the Start of an authenticated row (authrows.go) at path, on
// conns connections (0: --connections).
func (s *apacheShared) authRow(path string, conns int) func(context.Context, string) (*Running, error) {
	return s.rowWith(path, "", true, conns)
}

func (s *apacheShared) rowWith(path, backend string, auth bool, conns int) func(context.Context, string) (*Running, error) {
	return func(ctx context.Context, workDir string) (*Running, error) {
		inst, err := s.acquire(ctx, workDir)
		if err != nil {
			return nil, err
		}
		url := inst.base + path
		var headers []string
		if auth {
			headers = []string{authHeader}
			err = checkRow(ctx, url, headers)
		} else {
			err = checkHello(ctx, url)
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%w%s", err, inst.errorLogNote()), s.release())
		}
		var backendPIDs func() []int
		if backend != "" {
			if inst.backend == nil || inst.backend.parts[backend] == nil {
				return nil, errors.Join(fmt.Errorf("no backend %q in this instance", backend), s.release())
			}
			backendPIDs = inst.backend.parts[backend]
		}
		pids := func() []int {
			p := inst.child.PIDs()
			if len(p) > 0 && backendPIDs != nil {
				p = append(p, backendPIDs()...)
			}
			return p
		}
		var once sync.Once
		return &Running{URL: url, Headers: headers, Connections: conns, PIDs: pids, Backend: backendPIDs, Cgroup: inst.cgroup, Check: inst.checkCrashes, Stop: func() (err error) {
			once.Do(func() { err = s.release() })
			return err
		}}, nil
	}
}

func (s *apacheShared) acquire(ctx context.Context, workDir string) (*apacheInstance, error) {
	return s.shared.acquire(func() (*apacheInstance, error) { return s.spec.start(ctx, workDir) })
}

func (s *apacheShared) release() error { return s.shared.release("httpd") }

func apacheBinary() string {
	if p, err := exec.LookPath("apache2"); err == nil {
		return p
	}
	return "/usr/sbin/apache2"
}

// start writes the instance's root (workDir/apache-MPM/LABEL), starts
// apache2 -DFOREGROUND on a free port and waits until it serves the static
// file.
func (sp apacheSpec) start(ctx context.Context, workDir string) (*apacheInstance, error) {
	// Apache's children run as www-data: everything they read (the module
	// and library, handler files, the CGI program) must be reachable.
	if err := os.Chmod(workDir, 0o755); err != nil {
		return nil, err
	}
	root := filepath.Join(workDir, "apache-"+sp.mpm, sp.label)
	if err := os.MkdirAll(filepath.Join(root, "htdocs"), 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Dir(root), root, filepath.Join(root, "htdocs")} {
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "htdocs", "static.txt"), []byte(helloBody), 0o644); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cgroup, err := newCgroup("apache-" + sp.mpm + "-" + sp.label)
	if err != nil {
		apacheCgroupWarning.Do(func() {
			logf("warning: no cgroup for the Apache instances (%v): their CPU comes from /proc, which misses CGI programs that exited", err)
		})
		cgroup = ""
	}
	conf, backend, err := sp.conf(ctx, workDir, root, fmt.Sprintf("127.0.0.1:%d", port), cgroup)
	if err != nil {
		if cgroup != "" {
			err = errors.Join(err, removeCgroup(cgroup))
		}
		return nil, err
	}
	inst := &apacheInstance{root: root, cgroup: cgroup, base: fmt.Sprintf("http://127.0.0.1:%d", port), backend: backend,
		errorLog: &logFollower{path: filepath.Join(root, "error.log")}}
	fail := func(err error) (*apacheInstance, error) {
		if inst.child != nil {
			err = errors.Join(err, inst.child.Stop())
		}
		if backend != nil {
			err = errors.Join(err, backend.Stop())
		}
		if cgroup != "" {
			err = errors.Join(err, removeCgroup(cgroup))
		}
		return nil, err
	}
	confPath := filepath.Join(root, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf+apacheTail(sp.mpm)), 0o644); err != nil {
		return fail(err)
	}
	if inst.child, err = StartChildIn(workDir, "apache2 "+sp.mpm+" "+sp.label, cgroup, apacheBinary(), "-f", confPath, "-DFOREGROUND"); err != nil {
		return fail(err)
	}
	if err := WaitAnswers(ctx, inst.base+"/static.txt", 60*time.Second, inst.child); err != nil {
		return fail(fmt.Errorf("%w%s", err, inst.errorLogNote()))
	}
	// The pid file appears before the listener answers; with -DFOREGROUND
	// its PID is the process we started.
	b, err := os.ReadFile(filepath.Join(root, "httpd.pid"))
	if err != nil {
		return fail(fmt.Errorf("httpd answers but: %w", err))
	}
	if inst.pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil || inst.pid != inst.child.Cmd.Process.Pid {
		return fail(fmt.Errorf("pid file %s holds %q, want %d", filepath.Join(root, "httpd.pid"), b, inst.child.Cmd.Process.Pid))
	}
	logf("  %s: apache2 -f %s (pid %d)", sp.label, confPath, inst.pid)
	return inst, nil
}

// stop sends SIGTERM to the httpd parent (PID from its pid file) and checks
// that it and every process it had forked (workers, the cgid daemon, CGI
// programs) are gone; leftovers are killed by PID and reported. Crashed
// children in the error log are reported too.
func (a *apacheInstance) stop() error {
	var errs []error
	type proc struct{ pid, start int }
	var tree []proc
	for _, pid := range processTree([]int{a.pid}) {
		if st, ok := procStartTime(pid); ok && pid != a.pid {
			tree = append(tree, proc{pid, st})
		}
	}
	if !a.child.Exited() {
		_ = syscall.Kill(a.pid, syscall.SIGTERM)
		select {
		case <-a.child.done:
		case <-time.After(15 * time.Second):
			errs = append(errs, fmt.Errorf("httpd (pid %d) still running 15s after SIGTERM", a.pid))
		}
	}
	backendPIDs := map[int]bool{}
	if a.backend != nil {
		for _, pid := range a.backend.PIDs() {
			backendPIDs[pid] = true
		}
	}
	var left []int
	for deadline := time.Now().Add(5 * time.Second); ; {
		left = left[:0]
		for _, p := range tree {
			if st, ok := procStartTime(p.pid); ok && st == p.start {
				left = append(left, p.pid)
			}
		}
		if a.cgroup != "" { // also what left the tree: daemonized, reparented
			for _, pid := range cgroupProcs(a.cgroup) {
				if !backendPIDs[pid] && !slices.Contains(left, pid) {
					left = append(left, pid)
				}
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		errs = append(errs, fmt.Errorf("httpd (pid %d) left %d process(es) behind after SIGTERM: %v; killed", a.pid, len(left), left))
	}
	errs = append(errs, a.child.Stop()) // escalates if the parent is still there; kills what is left of its process group
	if a.backend != nil {
		errs = append(errs, a.backend.Stop())
	}
	if a.cgroup != "" {
		errs = append(errs, removeCgroup(a.cgroup))
	}
	if crashes := a.crashLines(); crashes != "" {
		errs = append(errs, fmt.Errorf("%s reports crashed children:\n%s", filepath.Join(a.root, "error.log"), crashes))
	}
	return errors.Join(errs...)
}

// procStartTime returns a live (not zombie) process's start time, which
// tells it apart from a later process that reuses its PID.
func procStartTime(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	st, err := strconv.Atoi(f[22-3])
	return st, err == nil
}

var apacheCgroupWarning sync.Once

var crashRe = regexp.MustCompile(`(?i)exit signal|segmentation fault|bus error`)

// crashLines returns the error log's lines that report a crashed child.
func (a *apacheInstance) crashLines() string {
	b, _ := os.ReadFile(filepath.Join(a.root, "error.log"))
	return matchingLines(b)
}

func matchingLines(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if crashRe.MatchString(l) {
			out = append(out, "    "+l)
		}
	}
	return strings.Join(out, "\n")
}

// checkCrashes (Running.Check) waits until the instance is idle, then
// reports children that crashed since the last call: the rows of an
// instance run one after another, so a crash belongs to the row just
// measured.
func (a *apacheInstance) checkCrashes() error {
	settleCgroup(a.cgroup)
	b, err := a.errorLog.newLines()
	if err != nil {
		return err
	}
	if crashes := matchingLines(b); crashes != "" {
		return fmt.Errorf("httpd children crashed during the run (%s):\n%s", filepath.Join(a.root, "error.log"), crashes)
	}
	return nil
}

func (a *apacheInstance) errorLogNote() string {
	p := filepath.Join(a.root, "error.log")
	tail := fileTail(p, 2000)
	if tail == "" {
		return ""
	}
	return "; " + p + ":\n" + indent(tail, "    ")
}

// checkHello GETs url once and wants 200, "Hello!", text/plain; charset=utf-8:
// a misconfigured row fails at start instead of being measured.
func checkHello(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
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
	if resp.StatusCode != http.StatusOK || string(body) != helloBody || resp.Header.Get("Content-Type") != helloType {
		return fmt.Errorf("GET %s: %s, Content-Type %q, body %.200q; want 200, %q, %q",
			url, resp.Status, resp.Header.Get("Content-Type"), body, helloType, helloBody)
	}
	return nil
}

// hostVersions names the hosts and modules the selected targets run, for
// the report's header.
func hostVersions(selected []Target) []string {
	apache := false
	anchors := map[string]bool{}
	for _, t := range selected {
		if !strings.HasPrefix(t.Group, "apache ") {
			continue
		}
		apache = true
		for _, a := range apacheAnchors {
			if strings.HasSuffix(t.Group, ": "+a.label) {
				anchors[a.label] = true
			}
		}
	}
	if !apache {
		return nil
	}
	out := []string{cmdLine(apacheBinary(), "-v")}
	for _, a := range apacheAnchors {
		if !anchors[a.label] {
			continue
		}
		v, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", a.pkg).Output()
		ver := strings.TrimSpace(string(v))
		if err != nil || ver == "" {
			ver = "NOT INSTALLED"
		}
		out = append(out, fmt.Sprintf("%s %s (%s)", a.pkg, ver, cmdLine(a.version[0], a.version[1:]...)))
	}
	return out
}
