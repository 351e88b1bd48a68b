package main

// lighttpd rows: anyhost as a CGI program under mod_cgi (cgi-lighttpd) and
// behind mod_fastcgi, which spawns `anyhost serve --adapter fastcgi` itself
// (lighttpd-fastcgi). Each group is one lighttpd of its own on the
// product's configuration (`anyhost lighttpd conf --full`), its access log
// off, with the static file (and, for CGI, a plain CGI program) taken out
// of what goes to anyhost. lighttpd and everything it starts run in the
// instance's cgroup: the CPU counts CGI programs that exited and the
// spawned FastCGI process.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

func lighttpdBinary() string {
	if p, err := exec.LookPath("lighttpd"); err == nil {
		return p
	}
	return "/usr/sbin/lighttpd"
}

// lighttpdGroups returns the cgi and fastcgi groups.
func lighttpdGroups() []Target {
	var ts []Target
	for _, mode := range []string{"cgi", "fastcgi"} {
		group := "lighttpd: " + mode
		inst := &lighttpdShared{mode: mode}
		prefix, what := "anyhost CGI", "anyhost as a CGI program: mod_cgi forks and execs a sh wrapper (anyhost serve --adapter cgi --config SITE --log-level warn) per request"
		if mode == "fastcgi" {
			prefix, what = "-> anyhost FastCGI", "mod_fastcgi to the `anyhost serve --adapter fastcgi` it spawns itself (bin-path, max-procs 1), over a unix socket"
		}
		cachedName, freshName := authRowNames(prefix)
		cachedNote, freshNote := authNotes("")
		cachedConns := 0
		if mode == "cgi" {
			cachedNote += "; the memory store is per process: under CGI every request is a miss, so wrk -c2 as the fresh row"
			cachedConns = authFreshConns
		}
		ts = append(ts,
			Target{Name: "static file", Group: group, Baseline: true, Start: inst.row("/static.txt", false, 0),
				Notes: "htdocs/static.txt (\"Hello!\", " + helloType + ") from the instance's own lighttpd (`anyhost lighttpd conf --full --mode " + mode +
					"`, access log off, the static file's path taken out of what goes to anyhost); CPU: the instance's cgroup"},
			Target{Name: prefix + " /hello", Group: group, Notes: what, Start: inst.row("/hello", false, 0)})
		if mode == "cgi" {
			ts = append(ts, Target{Name: "CGI hello (net/http/cgi)", Group: group, Start: inst.row("/cgi/hello", false, 0),
				Notes: "internal/bench/cgihello (net/http/cgi) under the same mod_cgi: this host's plain CGI program"})
		}
		ts = append(ts,
			Target{Name: cachedName, Group: group, Notes: cachedNote, Start: inst.row(authCachedPath, true, cachedConns)},
			Target{Name: freshName, Group: group, Notes: freshNote, Start: inst.row(authFreshPath, true, authFreshConns)})
	}
	return ts
}

// lighttpdVersions names lighttpd for the report's header when a lighttpd row runs.
func lighttpdVersions(selected []Target) []string {
	for _, t := range selected {
		if strings.HasPrefix(t.Group, "lighttpd: ") {
			return []string{cmdLine(lighttpdBinary(), "-v")}
		}
	}
	return nil
}

type lighttpdShared struct {
	shared[*lighttpdInstance]
	mode string
}

type lighttpdInstance struct {
	child    *Child
	cgroup   string
	root     string
	base     string
	errorLog *logFollower
}

func (s *lighttpdShared) row(path string, auth bool, conns int) func(context.Context, string) (*Running, error) {
	return func(ctx context.Context, workDir string) (*Running, error) {
		inst, err := s.acquire(func() (*lighttpdInstance, error) { return startLighttpd(ctx, workDir, s.mode) })
		if err != nil {
			return nil, err
		}
		var headers []string
		if auth {
			headers = []string{authHeader}
		}
		url := inst.base + path
		if err := checkRow(ctx, url, headers); err != nil {
			return nil, errors.Join(fmt.Errorf("%w%s", err, inst.errorLogNote()), s.shared.release("lighttpd"))
		}
		var once sync.Once
		return &Running{URL: url, Headers: headers, Connections: conns, PIDs: inst.child.PIDs, Cgroup: inst.cgroup, Check: inst.check,
			Stop: func() (err error) {
				once.Do(func() { err = s.shared.release("lighttpd") })
				return err
			}}, nil
	}
}

var (
	lighttpdAccessLogRe = regexp.MustCompile(`(?m)^accesslog\.filename = .*\n`)
	lighttpdFastCGIRe   = regexp.MustCompile(`(?s)\nfastcgi\.server = \(.*?\)\) \)\n`)
	lighttpdRewriteRe   = regexp.MustCompile(`(?m)^url\.rewrite-once = \( "\^/" => "/anyhost\.cgi" \)$`)
)

// startLighttpd lays out the instance (workDir/lighttpd-MODE), writes the
// product's configuration with the bench's changes and starts lighttpd -D
// in a new cgroup.
func startLighttpd(ctx context.Context, workDir, mode string) (_ *lighttpdInstance, err error) {
	exe, err := GoBuild(ctx, workDir, "./cmd/anyhost", "anyhost")
	if err != nil {
		return nil, err
	}
	site, err := authSiteFile(workDir)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(workDir, "lighttpd-"+mode)
	if err := os.MkdirAll(filepath.Join(root, "htdocs"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "htdocs", "static.txt"), []byte(helloBody), 0o644); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	inst := &lighttpdInstance{root: root, base: fmt.Sprintf("http://127.0.0.1:%d", port),
		errorLog: &logFollower{path: filepath.Join(root, "error.log")}}
	if inst.cgroup, err = newCgroup("lighttpd-" + mode); err != nil {
		logf("warning: no cgroup for the lighttpd %s instance (%v): its CPU comes from /proc, which misses CGI programs that exited", mode, err)
		inst.cgroup = ""
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, inst.stop())
		}
	}()
	args := []string{"lighttpd", "conf", "--full", "--root", root, "--listen", strings.TrimPrefix(inst.base, "http://"), "--config", site, "--mode", mode}
	if mode == "cgi" {
		wrapper, err := cgiWrapper(filepath.Join(root, "cgi-bin"), exe, site)
		if err != nil {
			return nil, err
		}
		args = append(args, "--program", wrapper)
	} else {
		args = append(args, "--socket", filepath.Join(root, "fcgi.sock"),
			"--spawn", fmt.Sprintf("%s serve --adapter fastcgi --config %s --log-level warn --access-log=false", exe, site))
	}
	out, err := outputIn(ctx, repoRoot, exe, args...)
	if err != nil {
		return nil, err
	}
	conf, err := lighttpdBenchConf(ctx, workDir, string(out), mode)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(root, "lighttpd.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if msg, err := exec.CommandContext(ctx, lighttpdBinary(), "-tt", "-f", file).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lighttpd -tt -f %s: %v: %s", file, err, msg)
	}
	if inst.child, err = StartChildIn(workDir, "lighttpd "+mode, inst.cgroup, lighttpdBinary(), "-D", "-f", file); err != nil {
		return nil, err
	}
	if err := WaitAnswers(ctx, inst.base+"/static.txt", 30*time.Second, inst.child); err != nil {
		return nil, fmt.Errorf("%w%s", err, inst.errorLogNote())
	}
	logf("  lighttpd -D -f %s (pid %d)", file, inst.child.Cmd.Process.Pid)
	return inst, nil
}

// lighttpdBenchConf turns the product's lighttpd.conf into the bench's: no
// access log; /static.txt (and under CGI the plain program at /cgi/hello)
// served by lighttpd itself, everything else still anyhost's.
func lighttpdBenchConf(ctx context.Context, workDir, conf, mode string) (string, error) {
	if !lighttpdAccessLogRe.MatchString(conf) {
		return "", fmt.Errorf("anyhost lighttpd conf: no accesslog.filename line:\n%s", conf)
	}
	conf = lighttpdAccessLogRe.ReplaceAllString(conf, "")
	conf = strings.Replace(conf, `"mod_accesslog", `, "", 1)
	static := fmt.Sprintf("\n# ---- anyhost benchmark: the static file\n$HTTP[\"url\"] == \"/static.txt\" {\n    mimetype.assign = ( \".txt\" => %q )\n}\n", helloType)
	if mode == "fastcgi" {
		m := lighttpdFastCGIRe.FindString(conf)
		if m == "" {
			return "", fmt.Errorf("anyhost lighttpd conf: no fastcgi.server block:\n%s", conf)
		}
		conf = strings.Replace(conf, m, "\n$HTTP[\"url\"] != \"/static.txt\" {"+strings.ReplaceAll(m, "\n", "\n    ")+"}\n", 1)
		return conf + static, nil
	}
	plain, err := GoBuild(ctx, workDir, "./internal/bench/cgihello", "cgihello")
	if err != nil {
		return "", err
	}
	if !lighttpdRewriteRe.MatchString(conf) {
		return "", fmt.Errorf("anyhost lighttpd conf: no url.rewrite-once to the program:\n%s", conf)
	}
	conf = lighttpdRewriteRe.ReplaceAllLiteralString(conf,
		`url.rewrite-once = ( "^/static\.txt$" => "$0", "^/cgi/hello$" => "$0", "^/" => "/anyhost.cgi" )`)
	return conf + static + fmt.Sprintf("alias.url += ( \"/cgi/hello\" => %q )\n$HTTP[\"url\"] == \"/cgi/hello\" {\n    cgi.assign = ( \"\" => \"\" )\n}\n", plain), nil
}

// check (Running.Check) waits until the instance is idle, then fails the
// row if lighttpd exited or logged errors since the last call.
func (l *lighttpdInstance) check() error {
	settleCgroup(l.cgroup)
	if l.child.Exited() {
		return fmt.Errorf("lighttpd exited%s", stderrNote(l.child))
	}
	b, err := l.errorLog.newLines()
	if err != nil {
		return err
	}
	var bad []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "(error)") || strings.Contains(line, "died") {
			bad = append(bad, "    "+line)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("lighttpd logged errors during the run (%s):\n%s", l.errorLog.path, strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	return nil
}

func (l *lighttpdInstance) errorLogNote() string {
	tail := fileTail(l.errorLog.path, 2000)
	if tail == "" {
		return ""
	}
	return "; " + l.errorLog.path + ":\n" + indent(tail, "    ")
}

// stop stops lighttpd (SIGTERM to its process group: the spawned FastCGI
// process too) and removes the cgroup.
func (l *lighttpdInstance) stop() error {
	var errs []error
	if l.child != nil {
		errs = append(errs, l.child.Stop())
	}
	if l.cgroup != "" {
		errs = append(errs, removeCgroup(l.cgroup))
	}
	return errors.Join(errs...)
}
