package main

// nginx-module rows: anyhost's handlers inside nginx's workers (the module
// `anyhost nginx build` makes, configured by `anyhost nginx conf --mode
// module --full`), against the same nginx instance's static file. One
// nginx (worker_processes 2, access_log off) in its own cgroup: the CPU is
// the instance's, Go's threads included. The FastCGI and auth_request rows
// they compare with are the nginx group's, in the same run.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const nginxModuleGroup = "nginx-module"

// nginxModuleSite: the demo's /hello, and /private with Basic auth against
// the demo's bcrypt (cost 10) user behind the credential cache, so the
// authenticated row measures the module's auth path, not bcrypt.
const nginxModuleSite = `# Written by the anyhost benchmark (internal/bench/nginxmodule.go).
[auth.cache]
ttl = "5m"

[[location]]
path = "/hello"
content = ["demo.hello"]

[[location]]
path = "/private"
content = ["demo.private"]

  [location.auth]
  realm = "anyhost demo"
  providers = ["demo.users"]
  require = ["valid-user"]
`

func nginxModuleTargets() []Target {
	inst := &nginxModuleShared{}
	row := func(name, path string, auth, baseline bool, notes string) Target {
		return Target{Name: name, Group: nginxModuleGroup, Baseline: baseline, Notes: notes, Start: inst.row(path, auth)}
	}
	return []Target{
		row("static file", "/static.txt", false, true,
			"html/static.txt (\"Hello!\"), sendfile off, in the module's nginx (worker_processes 2, access_log off); "+
				"CPU: the instance's cgroup (master and workers, Go's threads included)"),
		row("module /hello", "/hello", false, false,
			"the product: `anyhost nginx build`, `anyhost nginx conf --mode module --full`; demo.hello on a goroutine, "+
				"the request resumed from the module's eventfd"),
		row("module /private/, Basic auth (cache on)", "/private/hello", true, false,
			"Basic demo:demo in the ACCESS phase (no subrequest), [auth.cache] on: bcrypt once, then cached"),
	}
}

type nginxModuleShared struct {
	shared[*nginxModuleInstance]
}

type nginxModuleInstance struct {
	nginx    *Child
	cgroup   string
	prefix   string
	base     string
	errorLog *logFollower
}

func (s *nginxModuleShared) row(path string, auth bool) func(context.Context, string) (*Running, error) {
	return func(ctx context.Context, workDir string) (*Running, error) {
		inst, err := s.acquire(func() (*nginxModuleInstance, error) { return startNginxModule(ctx, workDir) })
		if err != nil {
			return nil, err
		}
		var headers []string
		if auth {
			headers = []string{nginxAuthHeader}
		}
		url := inst.base + path
		if err := checkNginxRow(ctx, url, headers); err != nil {
			return nil, errors.Join(fmt.Errorf("%w%s", err, inst.errorLogNote()), s.shared.release("nginx-module"))
		}
		var once sync.Once
		return &Running{URL: url, Headers: headers, PIDs: inst.pids, Cgroup: inst.cgroup, Check: inst.check,
			Stop: func() (err error) {
				once.Do(func() { err = s.shared.release("nginx-module") })
				return err
			}}, nil
	}
}

func startNginxModule(ctx context.Context, workDir string) (_ *nginxModuleInstance, err error) {
	exe, err := GoBuild(ctx, workDir, "./cmd/anyhost", "anyhost")
	if err != nil {
		return nil, err
	}
	libDir := filepath.Join(workDir, "nginx-module-lib")
	if _, err := buildOnce(libDir, func() error {
		start := time.Now()
		logf("building the nginx module and anyhost-app.so (anyhost nginx build; ~30 s)")
		if err := runIn(ctx, repoRoot, exe, "nginx", "build", "-o", libDir); err != nil {
			return err
		}
		logf("built the nginx module and library in %.1fs", time.Since(start).Seconds())
		return nil
	}); err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, "nginx-module")
	prefix := filepath.Join(dir, "prefix")
	html := filepath.Join(prefix, "html")
	if err := os.MkdirAll(html, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{workDir, dir, prefix, html, libDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(html, "static.txt"), []byte(helloBody), 0o644); err != nil {
		return nil, err
	}
	site := filepath.Join(dir, "site.toml")
	if err := os.WriteFile(site, []byte(nginxModuleSite), 0o644); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	inst := &nginxModuleInstance{prefix: prefix, base: fmt.Sprintf("http://127.0.0.1:%d", port),
		errorLog: &logFollower{path: filepath.Join(prefix, "error.log")}}
	defer func() {
		if err != nil {
			err = errors.Join(err, inst.stop())
		}
	}()
	if inst.cgroup, err = newCgroup("nginx-module"); err != nil {
		logf("warning: no cgroup for the nginx-module instance (%v): its CPU comes from /proc", err)
		inst.cgroup = ""
	}
	out, err := outputIn(ctx, repoRoot, exe, "nginx", "conf", "--mode", "module", "--lib-dir", libDir, "--config", site,
		"--full", "--prefix", prefix, "--server-listen", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	conf := string(out)
	if !accessLogRe.MatchString(conf) || !serverCloseRe.MatchString(conf) {
		return nil, fmt.Errorf("anyhost nginx conf --mode module: unexpected output:\n%s", conf)
	}
	conf = accessLogRe.ReplaceAllString(conf, "${1}access_log off;")
	conf = serverCloseRe.ReplaceAllLiteralString(conf, fmt.Sprintf(`
        # ---- anyhost benchmark: the static file
        location = /static.txt {
            root %s;
            types { }
            default_type "%s";
            sendfile off;
        }
    }
}
`, html, helloType))
	if err := os.WriteFile(filepath.Join(prefix, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if inst.nginx, err = StartChildIn(workDir, "nginx (module)", inst.cgroup, nginxBinary(),
		"-p", prefix, "-c", "nginx.conf", "-e", filepath.Join(prefix, "error.log"), "-g", "daemon off;"); err != nil {
		return nil, err
	}
	if err := WaitAnswers(ctx, inst.base+"/static.txt", 30*time.Second, inst.nginx); err != nil {
		return nil, fmt.Errorf("%w%s", err, inst.errorLogNote())
	}
	logf("  nginx (module) -p %s -c nginx.conf (pid %d)", prefix, inst.nginx.Cmd.Process.Pid)
	return inst, nil
}

func (n *nginxModuleInstance) pids() []int { return n.nginx.PIDs() }

func (n *nginxModuleInstance) check() error {
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
		return fmt.Errorf("nginx (module) logged errors during the run:\n%s", strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	return nil
}

func (n *nginxModuleInstance) errorLogNote() string {
	p := filepath.Join(n.prefix, "error.log")
	if tail := fileTail(p, 2000); tail != "" {
		return "; " + p + ":\n" + indent(tail, "    ")
	}
	return ""
}

func (n *nginxModuleInstance) stop() error {
	var errs []error
	if n.nginx != nil {
		errs = append(errs, n.nginx.Stop())
	}
	if n.cgroup != "" {
		errs = append(errs, removeCgroup(n.cgroup))
	}
	return errors.Join(errs...)
}
