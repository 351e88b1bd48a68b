package main

import (
	"math"

	"github.com/anyhost/anyhost/internal/wrk"

	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is everything a run produced; --json writes it.
type Report struct {
	Meta     Meta            `json:"meta"`
	Targets  []*TargetResult `json:"targets"`
	Pipeline *PipelineResult `json:"pipeline,omitempty"`
	Goals    []GoalResult    `json:"goals"`
	ExitCode int             `json:"exit_code"`
}

// Meta describes the machine and the load.
type Meta struct {
	Date        string   `json:"date"`
	Finished    string   `json:"finished"`
	Interrupted bool     `json:"interrupted"`
	Hostname    string   `json:"hostname"`
	NProc       int      `json:"nproc"`
	Kernel      string   `json:"kernel"`
	CPUModel    string   `json:"cpu_model"`
	LoadAvg     string   `json:"loadavg_at_start"`
	LoadAvgEnd  string   `json:"loadavg_at_end"`
	GoVersion   string   `json:"go_version"`
	WrkVersion  string   `json:"wrk_version"`
	Hosts       []string `json:"hosts,omitempty"` // versions of the hosts and modules the selected targets run
	ClkTck      int64    `json:"clk_tck"`
	WrkCommand  string   `json:"wrk_command"`
	H2Version   string   `json:"h2load_version,omitempty"`
	H2Command   string   `json:"h2load_command,omitempty"` // the HTTP/2 rows' load (h2load.go)
	Duration    string   `json:"duration"`
	Warmup      string   `json:"warmup"`
	Rounds      int      `json:"rounds"`
	Threads     int      `json:"threads"`
	Connections int      `json:"connections"`
	WorkDir     string   `json:"work_dir"`
}

// TargetResult is one row: its runs and their summary.
type TargetResult struct {
	Name          string      `json:"name"`
	Group         string      `json:"group"`
	Baseline      bool        `json:"baseline"`
	AllowErrors   bool        `json:"allow_errors"`
	AllowKACloses bool        `json:"allow_keepalive_closes"`
	Notes         string      `json:"notes,omitempty"`
	URL           string      `json:"url,omitempty"`
	StartError    string      `json:"start_error,omitempty"`
	StartSeconds  float64     `json:"start_seconds"`
	Check         string      `json:"check,omitempty"` // one GET after start
	Runs          []RunResult `json:"runs"`
	Summary       Summary     `json:"summary"`
}

// Summary holds the medians over the successful runs of one target and
// its ratios to the group's baseline (nil when not computable).
type Summary struct {
	Runs         int      `json:"runs_ok"`
	RunsCPU      int      `json:"runs_with_cpu"`
	RPS          float64  `json:"median_req_per_sec"`
	P50Ms        float64  `json:"median_p50_ms"`
	P99Ms        float64  `json:"median_p99_ms"`
	RPSMin       float64  `json:"min_req_per_sec"`
	RPSMax       float64  `json:"max_req_per_sec"`
	RSSKiB       float64  `json:"median_rss_kib_per_process"`
	CPUUsPerReq  float64  `json:"median_cpu_us_per_req"`
	CtxPerReq    float64  `json:"median_ctx_switches_per_req"`
	BackendCPUUs float64  `json:"median_backend_cpu_us_per_req,omitempty"` // the Running.Backend share of CPUUsPerReq
	CPUUsMin     float64  `json:"min_cpu_us_per_req"`
	CPUUsMax     float64  `json:"max_cpu_us_per_req"`
	RPSRatio     *float64 `json:"req_per_sec_ratio,omitempty"`
	CPURatio     *float64 `json:"cpu_ratio,omitempty"`
	CtxRatio     *float64 `json:"ctx_ratio,omitempty"`
	Non2xx3xx    int64    `json:"non_2xx_3xx"`
	SocketErrors int64    `json:"socket_errors"`
	ReadErrors   int64    `json:"read_errors"` // the part of SocketErrors that is "read"
	Requests     int64    `json:"requests"`    // over all runs
	RunErrors    int      `json:"failed_runs"`
}

func newTargetResult(t Target) *TargetResult {
	return &TargetResult{Name: t.Name, Group: t.Group, Baseline: t.Baseline, AllowErrors: t.AllowErrors, AllowKACloses: t.AllowKeepAliveCloses, Notes: t.Notes, Runs: []RunResult{}}
}

func (t *TargetResult) fullName() string { return t.Group + ": " + t.Name }

// hasErrors reports whether anything went wrong for this target.
func (t *TargetResult) hasErrors() bool {
	return t.StartError != "" || t.Summary.RunErrors > 0 || t.Summary.Non2xx3xx > 0 || t.Summary.SocketErrors > 0
}

// maxKeepAliveCloses is the share of requests that may end in a wrk read
// error on an AllowKeepAliveCloses target.
const maxKeepAliveCloses = 0.01

// excused reports whether the target's errors are all of a kind its flags
// allow, so that they do not fail the run.
func (t *TargetResult) excused() bool {
	if !t.httpErrorsOnly() {
		return false
	}
	s := t.Summary
	return t.AllowErrors ||
		(t.AllowKACloses && s.Non2xx3xx == 0 && s.SocketErrors == s.ReadErrors &&
			float64(s.ReadErrors) <= maxKeepAliveCloses*float64(s.Requests))
}

// httpErrorsOnly: the target's only problems are HTTP/socket errors seen by
// wrk (the kind AllowErrors excuses).
func (t *TargetResult) httpErrorsOnly() bool {
	return t.StartError == "" && t.Summary.RunErrors == 0
}

func collectMeta(cfg config, workDir string) Meta {
	m := Meta{
		Date:        time.Now().Format(time.RFC3339),
		NProc:       runtime.NumCPU(),
		Kernel:      readTrim("/proc/sys/kernel/osrelease"),
		GoVersion:   cmdLine("go", "version"),
		WrkVersion:  cmdLine(cfg.WrkPath, "-v"), // wrk -v exits 1; the first line is the version
		ClkTck:      cfg.ClkTck,
		WrkCommand:  "wrk " + strings.Join(wrk.Args(cfg.Threads, cfg.Connections, cfg.Duration, "URL"), " "),
		H2Command:   "h2load " + strings.Join(h2loadArgs(cfg, cfg.Connections, cfg.Duration, "LOG", "URL"), " "),
		Duration:    cfg.Duration.String(),
		Warmup:      cfg.Warmup.String(),
		Rounds:      cfg.Rounds,
		Threads:     cfg.Threads,
		Connections: cfg.Connections,
		WorkDir:     workDir,
	}
	m.Hostname, _ = os.Hostname()
	if f := strings.Fields(readTrim("/proc/loadavg")); len(f) >= 3 {
		m.LoadAvg = strings.Join(f[:3], " ")
	}
	if m.Kernel == "" {
		m.Kernel = cmdLine("uname", "-r")
	}
	for _, line := range strings.Split(readTrim("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			m.CPUModel = strings.TrimSpace(v)
			break
		}
	}
	return m
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// cmdLine returns the first line a command prints (stdout and stderr),
// whatever its exit status.
func cmdLine(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput()
	return firstLine(strings.TrimSpace(string(out)))
}

func printHeader(w io.Writer, m Meta) {
	fmt.Fprintf(w, "anyhost bench  %s\n", m.Date)
	fmt.Fprintf(w, "machine: %s, nproc %d, kernel %s, cpu %s, loadavg %s\n", m.Hostname, m.NProc, m.Kernel, m.CPUModel, m.LoadAvg)
	fmt.Fprintf(w, "go:      %s\n", m.GoVersion)
	fmt.Fprintf(w, "wrk:     %s\n", m.WrkVersion)
	for _, h := range m.Hosts {
		fmt.Fprintf(w, "host:    %s\n", h)
	}
	warm := "no warm-up"
	if m.Warmup != "0s" {
		warm = m.Warmup + " uncounted warm-up before each run"
	}
	fmt.Fprintf(w, "load:    %s; %d round(s), targets interleaved; %s\n", m.WrkCommand, m.Rounds, warm)
	if m.H2Version != "" {
		fmt.Fprintf(w, "HTTP/2:  %s (%s)\n", m.H2Command, m.H2Version)
	}
	fmt.Fprintf(w, "CPU:     server processes + descendants, /proc utime+stime (+reaped children), CLK_TCK %d; ctx switches over all their threads\n\n", m.ClkTck)

}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summarize fills every target's Summary, baselines first.
func summarize(ts []*TargetResult) {
	baseline := map[string]*TargetResult{}
	for _, t := range ts {
		var rps, p50, p99, cpu, ctx, backend, rss []float64
		s := Summary{}
		for i := range t.Runs {
			r := &t.Runs[i]
			if r.Wrk != nil {
				s.Non2xx3xx += r.Wrk.Non2xx3xx
				s.SocketErrors += r.Wrk.SocketErrors.Total()
				s.ReadErrors += r.Wrk.SocketErrors.Read
				s.Requests += r.Wrk.Requests
			}
			if !r.ok() {
				s.RunErrors++
				continue
			}
			rps = append(rps, r.Wrk.RequestsPerSec)
			p50 = append(p50, float64(r.Wrk.Percentiles["50%"])/float64(time.Millisecond))
			p99 = append(p99, float64(r.Wrk.P99())/float64(time.Millisecond))
			rss = append(rss, r.RSSKiBPerProc)
			if r.CPUValid {
				cpu = append(cpu, r.CPUUsPerReq)
				ctx = append(ctx, r.CtxPerReq)
				backend = append(backend, r.BackendCPUUsPerReq)
			}
		}
		s.Runs, s.RunsCPU = len(rps), len(cpu)
		s.RPS, s.P99Ms, s.CPUUsPerReq, s.CtxPerReq = median(rps), median(p99), median(cpu), median(ctx)
		s.BackendCPUUs = median(backend)
		s.P50Ms, s.RSSKiB = median(p50), median(rss)
		if len(rps) > 0 {
			s.RPSMin, s.RPSMax = slices.Min(rps), slices.Max(rps)
		}
		if len(cpu) > 0 {
			sorted := append([]float64(nil), cpu...)
			sort.Float64s(sorted)
			s.CPUUsMin, s.CPUUsMax = sorted[0], sorted[len(sorted)-1]
		}
		t.Summary = s
		if t.Baseline {
			baseline[t.Group] = t
		}
	}
	ratio := func(a, b float64, na, nb int) *float64 {
		if na == 0 || nb == 0 || b == 0 {
			return nil
		}
		r := a / b
		return &r
	}
	for _, t := range ts {
		b := baseline[t.Group]
		if b == nil {
			continue
		}
		t.Summary.RPSRatio = ratio(t.Summary.RPS, b.Summary.RPS, t.Summary.Runs, b.Summary.Runs)
		t.Summary.CPURatio = ratio(t.Summary.CPUUsPerReq, b.Summary.CPUUsPerReq, t.Summary.RunsCPU, b.Summary.RunsCPU)
		t.Summary.CtxRatio = ratio(t.Summary.CtxPerReq, b.Summary.CtxPerReq, t.Summary.RunsCPU, b.Summary.RunsCPU)
	}
}

func fmtRatio(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return ratio(*r)
}

// ratio prints x with two decimals, or with two significant digits below
// 0.1: a Go handler's CPU is a small fraction of a CGI fork's, and 0.00x
// would say nothing.
func ratio(x float64) string {
	if x >= 0.1 || x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return fmt.Sprintf("%.2fx", x)
	}
	return fmt.Sprintf("%.*fx", 1-int(math.Floor(math.Log10(x))), x)
}

// printTables prints one table per group, in the order groups first appear.
func printTables(w io.Writer, rep *Report) {
	var groups []string
	byGroup := map[string][]*TargetResult{}
	for _, t := range rep.Targets {
		if _, ok := byGroup[t.Group]; !ok {
			groups = append(groups, t.Group)
		}
		byGroup[t.Group] = append(byGroup[t.Group], t)
	}
	header := []string{"target", "req/s", "p99", "CPU us/req", "(min-max)", "ctx sw/req", "req/s ratio", "CPU ratio", "runs", "errors"}
	for _, g := range groups {
		rows := [][]string{header}
		hasBaseline := false
		var notes []string
		for _, t := range byGroup[g] {
			name := t.Name
			if t.Baseline {
				name += " [baseline]"
				hasBaseline = true
			}
			if t.Notes != "" {
				notes = append(notes, fmt.Sprintf("  %s: %s", t.Name, t.Notes))
			}
			if t.StartError != "" {
				rows = append(rows, []string{name, "-", "-", "-", "", "-", "-", "-", "0", "!!! START FAILED: " + firstLine(t.StartError)})
				continue
			}
			s := t.Summary
			cpu, cpuRange, ctx := "n/a", "", "n/a"
			if s.RunsCPU > 0 {
				cpu = fmt.Sprintf("%.1f", s.CPUUsPerReq)
				cpuRange = fmt.Sprintf("(%.1f-%.1f)", s.CPUUsMin, s.CPUUsMax)
				ctx = fmt.Sprintf("%.2f", s.CtxPerReq)
			}
			rps, p99 := "-", "-"
			if s.Runs > 0 {
				rps = fmt.Sprintf("%.0f", s.RPS)
				p99 = fmtLatency(time.Duration(s.P99Ms * float64(time.Millisecond)))
			}
			rows = append(rows, []string{name, rps, p99, cpu, cpuRange, ctx,
				fmtRatio(s.RPSRatio), fmtRatio(s.CPURatio),
				fmt.Sprintf("%d/%d", s.Runs, len(t.Runs)), errorCell(t)})
		}
		fmt.Fprintf(w, "== %s ==\n", g)
		writeAligned(w, rows)
		if !hasBaseline {
			fmt.Fprintf(w, "  (the group's baseline row was not run: no ratios)\n")
		}
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "medians over rounds; ratios = row / baseline (req/s: higher is better; CPU: lower is better).")
	var cg []string
	for _, g := range groups {
		for _, t := range byGroup[g] {
			if len(t.Runs) > 0 && t.Runs[0].CPUSource == "cgroup" {
				cg = append(cg, g)
				break
			}
		}
	}
	if len(cg) > 0 {
		fmt.Fprintf(w, "CPU of %s: the instance's cgroup v2 cpu.stat (usage_usec), which also counts processes that exited unwaited (CGI programs); ctx switches: live processes only.\n", strings.Join(cg, "; "))
	}
}

func errorCell(t *TargetResult) string {
	s := t.Summary
	var parts []string
	if s.RunErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d failed run(s)", s.RunErrors))
	}
	if s.Non2xx3xx > 0 {
		parts = append(parts, fmt.Sprintf("%d non-2xx/3xx", s.Non2xx3xx))
	}
	if s.SocketErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d socket errors", s.SocketErrors))
	}
	if len(parts) == 0 {
		return "-"
	}
	cell := "!!! " + strings.Join(parts, ", ")
	if t.excused() {
		cell += " (allowed)"
	}
	return cell
}

// writeAligned prints rows as columns: the first left-aligned, the rest right-aligned.
func writeAligned(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			// the last column is free text: do not pad it
			if i < len(r)-1 && len(c) > widths[i] {
				widths[i] = len(c)
			}
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			switch {
			case i == 0:
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			case i == len(r)-1:
				fmt.Fprintf(&b, "  %s", c)
			default:
				fmt.Fprintf(&b, "  %*s", widths[i], c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// printErrors prints every problem loudly and reports whether the run must
// exit 1 (any problem, except those the target's flags allow).
func printErrors(w io.Writer, ts []*TargetResult) (fail bool) {
	var lines []string
	for _, t := range ts {
		if !t.hasErrors() {
			continue
		}
		excused := t.excused()
		if !excused {
			fail = true
		}
		tag := ""
		if excused {
			tag = " (AllowErrors: not failing the run)"
			if !t.AllowErrors {
				tag = fmt.Sprintf(" (AllowKeepAliveCloses, <= %g of requests: not failing the run)", maxKeepAliveCloses)
			}
		}
		if t.StartError != "" {
			lines = append(lines, fmt.Sprintf("%s: START FAILED%s:\n%s", t.fullName(), tag, indent(t.StartError, "      ")))
		}
		for _, r := range t.Runs {
			switch {
			case r.Error != "":
				lines = append(lines, fmt.Sprintf("%s: round %d FAILED: %s", t.fullName(), r.Round, r.Error))
			case r.Wrk != nil && r.Wrk.Errors():
				lines = append(lines, fmt.Sprintf("%s: round %d: %s%s", t.fullName(), r.Round, r.Wrk.ErrorText(), tag))
			}
		}
	}
	if len(lines) == 0 {
		fmt.Fprintln(w, "no errors: every response 2xx/3xx, no socket errors.")
		return false
	}
	bar := strings.Repeat("!", 78)
	fmt.Fprintf(w, "\n%s\n!!! ERRORS\n", bar)
	for _, l := range lines {
		fmt.Fprintln(w, "!!! "+strings.ReplaceAll(l, "\n", "\n!!! "))
	}
	fmt.Fprintln(w, bar)
	return fail
}

func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
