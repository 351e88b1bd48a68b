package main

import (
	"github.com/anyhost/anyhost/internal/wrk"

	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// RunResult is one measured wrk run against one target.
type RunResult struct {
	Round int       `json:"round"`
	Start time.Time `json:"start"`
	// Error is set when the run produced no usable numbers (wrk failed, the
	// server was gone, ...). HTTP errors seen by wrk are in Wrk instead.
	Error     string      `json:"error,omitempty"`
	Wrk       *wrk.Result `json:"wrk,omitempty"`
	WrkOutput string      `json:"wrk_output"`
	WrkStderr string      `json:"wrk_stderr,omitempty"`

	// Server side, over the measured run: the target's processes and descendants.
	CPUValid           bool    `json:"cpu_valid"`               // false if the process tree changed so that the delta is meaningless
	CPUSource          string  `json:"cpu_source"`              // "proc" (CPUTicks) or "cgroup" (CgroupCPUUs)
	CPUTicks           int64   `json:"cpu_ticks"`               // utime+stime(+reaped children), in 1/ClkTck s
	CgroupCPUUs        int64   `json:"cgroup_cpu_us,omitempty"` // the target's cgroup usage_usec over the run (Running.Cgroup)
	CPUUsPerReq        float64 `json:"cpu_us_per_req"`
	CtxVoluntary       int64   `json:"ctx_voluntary"`
	CtxNonvoluntary    int64   `json:"ctx_nonvoluntary"`
	CtxPerReq          float64 `json:"ctx_switches_per_req"`
	PIDsBefore         []int   `json:"pids_before"`
	PIDsAfter          []int   `json:"pids_after"`
	ThreadsAfter       int     `json:"threads_after"`
	BackendCPUUsPerReq float64 `json:"backend_cpu_us_per_req,omitempty"` // of CPUUsPerReq, the Running.Backend processes' (from /proc)
	ServerCPUUtilPct   float64 `json:"server_cpu_util_pct"`              // server CPU time / wall time of the run, in % of one core
	RSSKiBPerProc      float64 `json:"rss_kib_per_process"`              // VmRSS after the run, over the tree's processes (per worker or child)
	WrkCPUUsPerReq     float64 `json:"wrk_cpu_us_per_req"`               // the load generator's own CPU, for context
	WallSeconds        float64 `json:"wall_seconds"`                     // measured wrk run, fork to exit
	WarmupRequests     int64   `json:"warmup_requests"`                  // requests in the uncounted warm-up run
	WarmupErrors       string  `json:"warmup_errors,omitempty"`          // HTTP errors during warm-up (not counted)
}

// ok reports whether the run produced numbers.
func (r *RunResult) ok() bool { return r.Error == "" && r.Wrk != nil }

func (r *RunResult) oneLine() string {
	if !r.ok() {
		return "FAILED: " + firstLine(r.Error)
	}
	s := fmt.Sprintf("%8.0f req/s  p99 %-9s", r.Wrk.RequestsPerSec, fmtLatency(r.Wrk.P99()))
	if r.CPUValid {
		s += fmt.Sprintf("  CPU %6.1f us/req  ctx %5.2f/req  (server at %.0f%% of a core)", r.CPUUsPerReq, r.CtxPerReq, r.ServerCPUUtilPct)
	} else {
		s += "  CPU n/a (process tree changed)"
	}
	if r.Wrk.Errors() {
		s += "  !!! ERRORS: " + r.Wrk.ErrorText()
	}
	return s
}

// measure runs the (uncounted) warm-up and then the measured wrk run against
// r, sampling the server's counters around the measured run.
func measure(ctx context.Context, cfg config, r *Running, round int) RunResult {
	rr := RunResult{Round: round}
	if cfg.Warmup > 0 {
		w, _, _, _, err := runLoad(ctx, cfg, cfg.Warmup, r)
		if ctx.Err() != nil {
			return rr
		}
		if err != nil {
			rr.Error = fmt.Sprintf("warm-up: %v", err)
			return rr
		}
		rr.WarmupRequests = w.Requests
		if w.Errors() {
			rr.WarmupErrors = w.ErrorText()
		}
	}

	roots := r.PIDs()
	if len(roots) == 0 {
		rr.Error = "server not running (PIDs() is empty) before the run"
		return rr
	}
	var cgBefore, cgAfter int64
	var cgErr error
	if r.Cgroup != "" {
		cgBefore, cgErr = cgroupUsageUs(r.Cgroup)
	}
	var backendBefore, backendAfter procSample
	if r.Backend != nil {
		backendBefore = sampleTree(r.Backend())
	}
	before := sampleTree(roots)
	rr.Start = time.Now()
	w, out, stderr, wrkCPU, err := runLoad(ctx, cfg, cfg.Duration, r)
	wall := time.Since(rr.Start)
	after := sampleTree(r.PIDs())
	if r.Backend != nil {
		backendAfter = sampleTree(r.Backend())
	}
	if r.Cgroup != "" && cgErr == nil {
		cgAfter, cgErr = cgroupUsageUs(r.Cgroup)
	}
	if ctx.Err() != nil {
		return rr
	}
	rr.WrkOutput, rr.WrkStderr, rr.WallSeconds = out, stderr, wall.Seconds()
	rr.PIDsBefore, rr.PIDsAfter, rr.ThreadsAfter = before.PIDs, after.PIDs, after.Threads
	if len(after.PIDs) > 0 {
		rr.RSSKiBPerProc = float64(after.RSSKiB) / float64(len(after.PIDs))
	}

	if err != nil {
		rr.Error = fmt.Sprintf("%v; stderr: %s", err, strings.TrimSpace(stderr))
		return rr
	}
	rr.Wrk = w
	if w.Requests == 0 {
		rr.Error = "wrk completed 0 requests"
		return rr
	}
	if len(after.PIDs) == 0 {
		rr.Error = "server not running after the run (it died under load?)"
		return rr
	}
	n := float64(w.Requests)
	rr.WrkCPUUsPerReq = float64(wrkCPU.Microseconds()) / n

	rr.CPUTicks = int64(after.Ticks) - int64(before.Ticks)
	rr.CtxVoluntary, rr.CtxNonvoluntary = ctxDelta(before, after)
	cpuUs := float64(rr.CPUTicks) * 1e6 / float64(cfg.ClkTck)
	rr.CPUSource = "proc"
	if r.Cgroup != "" {
		if cgErr != nil {
			rr.Error = fmt.Sprintf("reading the target's cgroup: %v", cgErr)
			return rr
		}
		rr.CPUSource, rr.CgroupCPUUs = "cgroup", cgAfter-cgBefore
		cpuUs = float64(rr.CgroupCPUUs)
	}
	rr.CPUValid = cpuUs >= 0 && rr.CtxVoluntary >= 0 && rr.CtxNonvoluntary >= 0
	if rr.CPUValid {
		rr.CPUUsPerReq = cpuUs / n
		rr.CtxPerReq = float64(rr.CtxVoluntary+rr.CtxNonvoluntary) / n
		if r.Backend != nil {
			rr.BackendCPUUsPerReq = float64(int64(backendAfter.Ticks)-int64(backendBefore.Ticks)) * 1e6 / float64(cfg.ClkTck) / n
		}
		rr.ServerCPUUtilPct = 100 * cpuUs / float64(wall.Microseconds())
	}
	if r.Check != nil {
		if err := r.Check(); err != nil {
			rr.Error = err.Error()
		}
	}
	return rr
}

// runLoad runs the row's load generator (wrk, or h2load for Running.H2)
// for d and returns what it measured, its output and its own CPU time. A
// generator that exits non-zero after printing its summary still counts:
// the summary has the errors.
func runLoad(ctx context.Context, cfg config, d time.Duration, r *Running) (res *wrk.Result, stdout, stderr string, cpu time.Duration, err error) {
	if r.H2 {
		return runH2load(ctx, cfg, d, r)
	}
	stdout, stderr, cpu, err = runWrk(ctx, cfg, d, r)
	res, perr := wrk.Parse(stdout)
	if perr != nil {
		return nil, stdout, stderr, cpu, fmt.Errorf("wrk: %v; parse: %v", err, perr)
	}
	return res, stdout, stderr, cpu, nil
}

// runWrk runs one wrk load and returns its stdout, stderr and its own CPU time.
func runWrk(ctx context.Context, cfg config, d time.Duration, r *Running) (stdout, stderr string, cpu time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	conns := cfg.Connections
	if r.Connections > 0 {
		conns = r.Connections
	}
	args := wrk.Args(min(cfg.Threads, conns), conns, d, r.URL)
	for _, h := range r.Headers { // before the URL, which wrk.Args puts last
		args = append(args[:len(args)-1], "-H", h, r.URL)
	}
	cmd := exec.CommandContext(ctx, cfg.WrkPath, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
		}
	}
	return o.String(), e.String(), cpu, err
}

// checkOnce describes one GET of url, for the start-up log and the JSON.
func checkOnce(ctx context.Context, url string, headers ...string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	client := checkClient(5 * time.Second)
	resp, err := client.Do(req)
	if err != nil {
		return "GET failed: " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	s := fmt.Sprintf("%s, %d bytes, Content-Type %q", resp.Status, len(body), resp.Header.Get("Content-Type"))
	if len(body) <= 64 {
		s += fmt.Sprintf(", body %q", body)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		s = "!!! " + s
	}
	return s
}

func fmtLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dus", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
