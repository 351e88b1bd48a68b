// Command bench compares HTTP servers side by side under the same wrk load,
// reporting req/s, p99 latency and, above all, server CPU time and context
// switches per request (see /work/shared/HOSTS.md: on the shared 2-core VMs,
// req/s swings 2-3x between identical runs; CPU per request holds).
//
//	go run ./internal/bench [--duration 5s] [--rounds 3] [--only REGEXP] [--json FILE]
//
// --only matches a target's name or "Group: Name", e.g. --only 'apache event'
// runs every Apache group under mpm_event, --only '^apache prefork: anyhost'
// one group. Rows come from the table in targets.go. Every target is started once;
// then each round runs every target once, in table order (interleaved, so
// slow drifts of the machine hit all rows alike): a warm-up wrk run that is
// not counted, then the measured run, with the CPU and context-switch
// counters of the target's processes (and their descendants) read from /proc
// before and after. The tables show per-row medians over the rounds and
// ratios to the group's baseline row.
//
// Before the hosts, while the machine is quiet, it runs the pipeline's Go
// benchmarks (pipeline.go) against their committed baseline. At the end it
// prints one line per goal of the performance issue whose rows ran
// (goals.go): "goal N: met|missed (figures)".
//
// Exit status: 0 if all went well; 1 if a target failed to start, a run
// failed, or a target saw non-2xx/3xx responses or socket errors that its
// AllowErrors or AllowKeepAliveCloses flag does not excuse; 2 on bad usage;
// 130 when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

type config struct {
	Duration    time.Duration
	Warmup      time.Duration
	Rounds      int
	Connections int
	Threads     int
	WrkPath     string
	ClkTck      int64
}

func main() { os.Exit(run()) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run() int {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./internal/bench [flags]\n\nCompares HTTP servers under wrk load; see targets.go for the rows.\n\n")
		fs.PrintDefaults()
	}
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "length of each measured wrk run (whole seconds; CPU ticks are 10 ms, keep it >= 3s)")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "uncounted wrk run before each measured run (0 to skip)")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds; each runs every target once")
	fs.IntVar(&cfg.Connections, "connections", 32, "wrk -c")
	fs.IntVar(&cfg.Threads, "threads", 2, "wrk -t")
	only := fs.String("only", "", "run only targets whose name or \"Group: Name\" matches this regexp (also enables opt-in targets it matches)")
	list := fs.Bool("list", false, "list the targets and exit")
	jsonPath := fs.String("json", "", "write the raw results as JSON to this file")
	pipelineCount := fs.Int("pipeline-count", 6, "go test -count for the pipeline's Go benchmarks (--only '"+pipelineSelector+"' runs them alone)")
	keep := fs.Bool("keep", false, "keep the work directory (binaries, child logs) instead of removing it")
	docDir := fs.String("doc", "", "write benchmarks.md and its plots (PNG) into this directory (make bench: docs)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %q\n", fs.Args())
		return 2
	}
	if cfg.Duration < time.Second || cfg.Duration%time.Second != 0 || cfg.Warmup < 0 || (cfg.Warmup > 0 && cfg.Warmup%time.Second != 0) {
		fmt.Fprintln(os.Stderr, "--duration must be whole seconds >= 1s, --warmup whole seconds or 0 (wrk takes whole seconds)")
		return 2
	}
	if cfg.Rounds < 1 || cfg.Connections < 1 || cfg.Threads < 1 || cfg.Threads > cfg.Connections {
		fmt.Fprintln(os.Stderr, "--rounds, --connections, --threads must be >= 1, and threads <= connections")
		return 2
	}

	all := targets()
	if err := validateTargets(all); err != nil {
		fmt.Fprintln(os.Stderr, "targets.go:", err)
		return 2
	}
	var onlyRe *regexp.Regexp
	if *only != "" {
		var err error
		if onlyRe, err = regexp.Compile(*only); err != nil {
			fmt.Fprintln(os.Stderr, "--only:", err)
			return 2
		}
	}
	if *list {
		listTargets(os.Stdout, all, onlyRe)
		return 0
	}
	selected := selectTargets(all, onlyRe)
	runPipelineToo := onlyRe == nil || onlyRe.MatchString(pipelineSelector)
	if len(selected) == 0 && !runPipelineToo {
		fmt.Fprintf(os.Stderr, "--only %q matches no target (see --list)\n", *only)
		return 2
	}

	var err error
	if cfg.WrkPath, err = exec.LookPath("wrk"); err != nil {
		fmt.Fprintln(os.Stderr, "wrk not found (apt-get install wrk):", err)
		return 1
	}
	if repoRoot, err = findRepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if cfg.ClkTck, err = clockTicksPerSecond(); err != nil {
		logf("warning: %v", err)
	}

	// The first SIGINT/SIGTERM cancels ctx: wrk is killed, every child is
	// stopped, partial results are printed. A second one kills the driver at
	// once (children then get SIGKILL through Pdeathsig).
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	go func() {
		<-ctx.Done()
		stopSignals()
	}()

	workDir, err := os.MkdirTemp("", "anyhost-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if *keep {
			logf("kept work directory %s", workDir)
			return
		}
		if err := os.RemoveAll(workDir); err != nil {
			logf("warning: removing %s: %v", workDir, err)
		}
	}()

	rep := &Report{Meta: collectMeta(cfg, workDir)}
	rep.Meta.Hosts = append(append(hostVersions(selected), nginxVersions(selected)...), lighttpdVersions(selected)...)
	rep.Meta.H2Version = h2loadVersion(selected)
	printHeader(os.Stdout, rep.Meta)

	// First, while the machine is quiet: the Go benchmarks.
	if runPipelineToo && ctx.Err() == nil {
		rep.Pipeline = runPipeline(ctx, *pipelineCount)
	}

	// Start every selected target; stop them all on the way out, whatever happens.
	results := make([]*TargetResult, len(selected))
	running := make([]*Running, len(selected))
	stopAll := func() {
		for i := len(running) - 1; i >= 0; i-- {
			if running[i] == nil {
				continue
			}
			if err := running[i].Stop(); err != nil {
				logf("warning: stopping %s: %v", selected[i].FullName(), err)
			}
			running[i] = nil
		}
	}
	defer stopAll()

	for i, t := range selected {
		results[i] = newTargetResult(t)
		rep.Targets = append(rep.Targets, results[i])
		if ctx.Err() != nil {
			break
		}
		logf("starting %s", t.FullName())
		t0 := time.Now()
		r, err := t.Start(ctx, workDir)
		results[i].StartSeconds = time.Since(t0).Seconds()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			results[i].StartError = err.Error()
			logf("START FAILED %s: %v", t.FullName(), err)
			continue
		}
		running[i] = r
		results[i].URL = r.URL
		results[i].Check = checkOnce(ctx, r.URL, r.Headers...)
		logf("  %s answers: %s", r.URL, results[i].Check)
	}

	for round := 1; round <= cfg.Rounds && ctx.Err() == nil; round++ {
		for i, t := range selected {
			if running[i] == nil || ctx.Err() != nil {
				continue
			}
			rr := measure(ctx, cfg, running[i], round)
			if ctx.Err() != nil {
				break // interrupted mid-run: not a result
			}
			results[i].Runs = append(results[i].Runs, rr)
			logf("round %d/%d  %-50s %s", round, cfg.Rounds, t.FullName(), rr.oneLine())
		}
	}
	interrupted := ctx.Err() != nil
	stopAll()

	summarize(rep.Targets)
	rep.Meta.Finished = time.Now().Format(time.RFC3339)
	if f := strings.Fields(readTrim("/proc/loadavg")); len(f) >= 3 {
		rep.Meta.LoadAvgEnd = strings.Join(f[:3], " ")
	}
	rep.Meta.Interrupted = interrupted
	printTables(os.Stdout, rep)
	printSeed(os.Stdout, rep)
	if rep.Pipeline != nil {
		printPipeline(os.Stdout, rep.Pipeline)
	}
	failed := printErrors(os.Stdout, rep.Targets)
	if rep.Pipeline != nil && rep.Pipeline.Error != "" {
		failed = true
	}
	rep.Goals = judgeGoals(rep)
	printGoals(os.Stdout, rep.Goals)

	code := 0
	if failed {
		code = 1
	}
	if interrupted {
		fmt.Fprintln(os.Stdout, "\nINTERRUPTED: results above are partial.")
		code = 130
	}
	rep.ExitCode = code
	if *docDir != "" && !interrupted {
		if err := writeDoc(*docDir, rep, "go run ./internal/bench "+strings.Join(os.Args[1:], " ")); err != nil {
			logf("writing %s: %v", *docDir, err)
			if code == 0 {
				code = 1
			}
		} else {
			logf("wrote %s", filepath.Join(*docDir, docFile))
		}
	}
	if *jsonPath != "" {
		if err := writeJSON(*jsonPath, rep); err != nil {
			logf("writing %s: %v", *jsonPath, err)
			if code == 0 {
				code = 1
			}
		} else {
			logf("wrote %s", *jsonPath)
		}
	}
	return code
}

func validateTargets(ts []Target) error {
	names := map[string]bool{}
	baselines := map[string]int{}
	for _, t := range ts {
		switch {
		case t.Name == "" || t.Group == "" || t.Start == nil:
			return fmt.Errorf("target %q: Name, Group and Start are required", t.Name)
		case names[t.FullName()]:
			return fmt.Errorf("duplicate target %q", t.FullName())
		}
		names[t.FullName()] = true
		if _, ok := baselines[t.Group]; !ok {
			baselines[t.Group] = 0
		}
		if t.Baseline {
			baselines[t.Group]++
		}
	}
	for g, n := range baselines {
		if n != 1 {
			return fmt.Errorf("group %q has %d Baseline rows, want exactly 1", g, n)
		}
	}
	return nil
}

func selectTargets(all []Target, only *regexp.Regexp) []Target {
	var out []Target
	for _, t := range all {
		if only == nil && t.OptIn {
			continue
		}
		if only != nil && !only.MatchString(t.Name) && !only.MatchString(t.FullName()) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func listTargets(w io.Writer, all []Target, only *regexp.Regexp) {
	sel := map[string]bool{}
	for _, t := range selectTargets(all, only) {
		sel[t.FullName()] = true
	}
	gw := len("group")
	for _, t := range all {
		gw = max(gw, len(t.Group))
	}
	fmt.Fprintf(w, "%-4s %-*s %-40s %s\n", "run", gw, "group", "target", "flags")
	for _, t := range all {
		var flags []string
		if t.Baseline {
			flags = append(flags, "baseline")
		}
		if t.OptIn {
			flags = append(flags, "opt-in")
		}
		if t.AllowErrors {
			flags = append(flags, "allow-errors")
		}
		if t.AllowKeepAliveCloses {
			flags = append(flags, "allow-keepalive-closes")
		}
		mark := "-"
		if sel[t.FullName()] {
			mark = "yes"
		}
		fmt.Fprintf(w, "%-4s %-*s %-40s %s\n", mark, gw, t.Group, t.Name, strings.Join(flags, ","))
	}
}

func findRepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the anyhost module: run from the repository (go run ./internal/bench)")
	}
	return filepath.Dir(gomod), nil
}
