package main

// nginx-module rows: anyhost's handlers inside nginx's workers (the module
// `anyhost nginx build` makes, configured by `anyhost nginx conf --mode
// module --full`), against the same nginx instance's static file. One
// nginx (worker_processes 2, access_log off) in its own cgroup: the CPU is
// the instance's, Go's threads included. The FastCGI rows they compare
// with are the nginx group's, in the same run.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const nginxModuleGroup = "nginx-module"

// nginxModuleSite: the auth rows' site (authrows.go).
const nginxModuleSite = "# Written by the anyhost benchmark (internal/bench/nginxmodule.go).\n" + authCache + "\n" + authLocations

func nginxModuleTargets() []Target {
	inst := &nginxShared{name: "nginx-module", start: startNginxModule}
	row := func(name, path string, auth, baseline bool, notes string) Target {
		return Target{Name: name, Group: nginxModuleGroup, Baseline: baseline, Notes: notes, Start: inst.row(path, auth, 0)}
	}
	cachedName, freshName := authRowNames("module")
	cachedNote, freshNote := authNotes("in nginx's ACCESS phase, no subrequest")
	fresh := row(freshName, authFreshPath, true, false, freshNote)
	fresh.Start = inst.row(authFreshPath, true, authFreshConns)
	return []Target{
		row("static file", "/static.txt", false, true,
			"html/static.txt (\"Hello!\"), sendfile off, in the module's nginx (worker_processes 2, access_log off); "+
				"CPU: the instance's cgroup (master and workers, Go's threads included)"),
		row("module /hello", "/hello", false, false,
			"the product: `anyhost nginx build`, `anyhost nginx conf --mode module --full`; demo.hello on a goroutine, "+
				"the request resumed from the module's eventfd"),
		row(cachedName, authCachedPath, true, false, cachedNote),
		fresh, // last: see nginxInstance.settle
	}
}

// startNginxModule builds the module and library once, and starts nginx on
// the product's module configuration with the static file added.
func startNginxModule(ctx context.Context, workDir string) (_ *nginxInstance, err error) {
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
		return os.Chmod(libDir, 0o755)
	}); err != nil {
		return nil, err
	}
	inst, err := newNginxInstance(workDir, "nginx-module", nginxModuleSite)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, inst.stop())
		}
	}()
	out, err := outputIn(ctx, repoRoot, exe, "nginx", "conf", "--mode", "module", "--lib-dir", libDir,
		"--config", filepath.Join(inst.dir, "site.toml"), "--full", "--prefix", inst.prefix,
		"--server-listen", strings.TrimPrefix(inst.base, "http://"))
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
`, filepath.Join(inst.prefix, "html"), helloType))
	if err := inst.startNginx(ctx, workDir, "nginx (module)", conf); err != nil {
		return nil, err
	}
	logf("  nginx (module) -p %s -c nginx.conf (pid %d)", inst.prefix, inst.nginx.Cmd.Process.Pid)
	return inst, nil
}
