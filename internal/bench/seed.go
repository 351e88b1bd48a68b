package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The seed's table: mod_python's headline benchmark, "standard CGI 5 req/s,
// CGI-compatible handler 40, native handler 140" (native = 28x CGI),
// reproduced with the same kinds of rows in one httpd per MPM, next to
// anyhost's. Ratios in the group are to row (a).
//
// seedHelloPy is the one Python CGI script rows (a), (b) and the anyhost
// cgi rows run: the standard cgi module, as the seed's script used, with
// Python 3.11's DeprecationWarnings (cgi, and imp in mod_python's
// cgihandler) silenced so that they cost no stderr writes. No __main__
// guard: mod_python's cgihandler imports the file as a module.
const seedHelloPy = `#!/usr/bin/python3
import warnings
warnings.filterwarnings("ignore", category=DeprecationWarning)
import cgi
import sys

form = cgi.FieldStorage()
sys.stdout.write("Content-Type: text/plain; charset=utf-8\r\n\r\nHello!")
sys.stdout.flush()
`

// seedSite is the anyhost site of the seed's httpd: the native handler and
// the cgi handler running hello.py (max_concurrent past wrk's connections).
const seedSite = `# Written by the anyhost benchmark (internal/bench/seed.go).
[[location]]
path = "/hello"
content = ["demo.hello"]

[[location]]
path = "/seed/anyhost-cgi"
content = [{handler = "cgi", options = {script = %q, max_concurrent = "64"}}]
`

// seedCGIConns is wrk's connections for the rows that fork per request.
const seedCGIConns = 4

// seedNginxRow is row (e) behind nginx, in the nginx group.
const seedNginxRow = "-> anyhost cgi handler, hello.py (the seed's row (e))"

// seedGroupName is the seed group's name for an MPM.
func seedGroupName(mpm string) string { return "apache " + mpm + ": the seed's table" }

func seedTargets(mpm string) []Target {
	group := seedGroupName(mpm)
	inst := &apacheShared{spec: apacheSpec{label: "seed", mpm: mpm,
		conf: func(ctx context.Context, workDir, root, listen, _ string) (string, *Running, error) {
			return seedApacheConf(ctx, workDir, root, listen, mpm)
		}}}
	row := func(name, path, notes string) Target {
		return Target{Name: name, Group: group, Notes: notes, Start: inst.row(path, "")}
	}
	// A fork per request: a python3 start costs this machine ~0.2 s of
	// CPU, so wrk's 32 connections would only queue into its 2 s timeout.
	forked := func(t Target) Target {
		start := t.Start
		t.Start = func(ctx context.Context, workDir string) (*Running, error) {
			r, err := start(ctx, workDir)
			if r != nil {
				r.Connections = seedCGIConns
			}
			return r, err
		}
		t.Notes += fmt.Sprintf("; wrk -c%d", seedCGIConns)
		return t
	}
	a := forked(row("(a) standard CGI: hello.py under mod_cgid", "/seed/cgi/hello.py",
		"a Python 3 CGI script importing the standard cgi module, one fork+exec of python3 per request (the seed's \"standard CGI\")"))
	a.Baseline = true
	cgihandler := forked(row("(b) CGI-compatible: hello.py under mod_python's cgihandler", "/seed/cgihandler/hello.py",
		"PythonHandler mod_python.cgihandler on the same file: imported into the child's interpreter per request (the seed's middle row)"))
	if mpm == "event" {
		// Seen in every round: about 4% of its keep-alive connections end
		// in a read error under mpm_event (the cgihandler is not made for
		// threaded MPMs), more than AllowKeepAliveCloses excuses.
		cgihandler.AllowErrors = true
		cgihandler.Notes += "; under mpm_event ~4% of requests end in a read error (shown, not failing the run)"
	}
	return []Target{
		a,
		cgihandler,
		row("(c) native: mod_python handler", "/seed/modpython",
			"SetHandler mod_python + PythonHandler, preloaded (the seed's native row)"),
		forked(row("(d) Go CGI program under mod_cgid", "/seed/cgi/gohello",
			"internal/bench/cgihello (net/http/cgi): CGI without an interpreter's start-up")),
		forked(row("(e) hello.py through anyhost's cgi handler, in-process", "/seed/anyhost-cgi",
			"handlers/cgi in mod_anyhost: the same script spawned by Go (posix_spawn, clean mask, no inherited fds)")),
		row("(f) anyhost native handler, in-process", "/hello",
			"demo.hello in mod_anyhost (`anyhost apache conf --full --mpm "+mpm+"`)"),
	}
}

// seedApacheConf is anyhost's own httpd.conf for the seed site, plus
// mod_cgid and mod_python for the other rows.
func seedApacheConf(ctx context.Context, workDir, root, listen, mpm string) (string, *Running, error) {
	so := filepath.Join(apacheModDir, "mod_python.so")
	if _, err := os.Stat(so); err != nil {
		return "", nil, fmt.Errorf("%s is missing: install Debian's libapache2-mod-python (make bench-deps)", so)
	}
	exe, lib, err := anyhostApacheLib(ctx, workDir)
	if err != nil {
		return "", nil, err
	}
	cgi, err := GoBuild(ctx, workDir, "./internal/bench/cgihello", "cgihello")
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(root, "seed")
	if err := writeFiles(dir, map[string]string{"benchhello.py": pythonHello}); err != nil {
		return "", nil, err
	}
	script := filepath.Join(dir, "hello.py")
	if err := os.WriteFile(script, []byte(seedHelloPy), 0o755); err != nil {
		return "", nil, err
	}
	site := filepath.Join(root, "seed-site.toml")
	if err := os.WriteFile(site, []byte(fmt.Sprintf(seedSite, script)), 0o644); err != nil {
		return "", nil, err
	}
	conf, err := productApacheConf(ctx, exe, lib, root, listen, mpm, "--config", site)
	if err != nil {
		return "", nil, err
	}
	mod := func(name, file string) string {
		return fmt.Sprintf("<IfModule !%s>\n    LoadModule %s %s\n</IfModule>\n", name, name, q(filepath.Join(apacheModDir, file)))
	}
	conf += "\n# ---- anyhost benchmark: the seed's rows (a)-(d)\n" +
		mod("alias_module", "mod_alias.so") + mod("cgid_module", "mod_cgid.so") +
		fmt.Sprintf("LoadModule python_module %s\n", q(so)) +
		fmt.Sprintf("ScriptSock %s\n", q(filepath.Join(root, "cgid.sock"))) +
		fmt.Sprintf("ScriptAlias \"/seed/cgi/hello.py\" %s\nScriptAlias \"/seed/cgi/gohello\" %s\n", q(script), q(cgi)) +
		fmt.Sprintf("Alias \"/seed/cgihandler/hello.py\" %s\n", q(script)) +
		fmt.Sprintf("<Directory %s>\n    Require all granted\n</Directory>\n", q(dir)) +
		"<Location \"/seed/cgihandler\">\n    SetHandler mod_python\n    PythonHandler mod_python.cgihandler\n    PythonAutoReload Off\n</Location>\n" +
		fmt.Sprintf("PythonOption mod_python.mutex_directory %s\nPythonPath \"sys.path + ['%s']\"\nPythonImport benchhello 127.0.0.1\n", q(root), dir) +
		"<Location \"/seed/modpython\">\n    SetHandler mod_python\n    PythonHandler benchhello\n    PythonAutoReload Off\n</Location>\n"
	return conf, nil, nil
}

// printSeed prints the seed's table as mod_python printed it, per MPM:
// req/s and CPU per request of each row, and ratios to (a), standard CGI;
// the nginx row (e) too, measured in its own instance in the same rounds.
func printSeed(w io.Writer, rep *Report) {
	byName := map[string]*TargetResult{}
	for _, t := range rep.Targets {
		byName[t.fullName()] = t
	}
	nginxRow := byName[nginxGroup+": "+seedNginxRow]
	for _, mpm := range apacheMPMs {
		group := seedGroupName(mpm)
		var rows []*TargetResult
		var base *TargetResult
		for _, t := range rep.Targets {
			if t.Group == group {
				rows = append(rows, t)
				if t.Baseline {
					base = t
				}
			}
		}
		if base == nil || base.Summary.Runs == 0 {
			continue
		}
		if nginxRow != nil && nginxRow.Summary.Runs > 0 {
			rows = append(rows, nginxRow)
		}
		fmt.Fprintf(w, "== the seed's table, Apache mpm_%s (mod_python's: standard CGI 5 req/s, CGI-compatible handler 40, native handler 140; native = 28x CGI) ==\n", mpm)
		table := [][]string{{"row", "req/s", "x (a)", "CPU us/req", "CPU / (a)"}}
		for _, t := range rows {
			s := t.Summary
			if s.Runs == 0 {
				table = append(table, []string{t.Name, "-", "-", "-", "-"})
				continue
			}
			cpu, cpuRatio := "n/a", "n/a"
			if s.RunsCPU > 0 && base.Summary.RunsCPU > 0 {
				cpu = fmt.Sprintf("%.0f", s.CPUUsPerReq)
				cpuRatio = fmt.Sprintf("%.2fx", s.CPUUsPerReq/base.Summary.CPUUsPerReq)
			}
			table = append(table, []string{t.Name, fmt.Sprintf("%.0f", s.RPS), fmt.Sprintf("%.1fx", s.RPS/base.Summary.RPS), cpu, cpuRatio})
		}
		writeAligned(w, table)
		fmt.Fprintln(w, "  goals: (f) native >= 28x (a) in req/s; (e) in-process CPU/req <= 1.1x (a)'s (anyhost adds nothing to a fork)")
		fmt.Fprintln(w)
	}
}
