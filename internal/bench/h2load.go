package main

// The HTTP/2 rows' load generator: wrk speaks HTTP/1.1 only, so rows with
// Running.H2 run nghttp2's h2load instead, with the same connections and
// threads and one stream per connection at a time (-m 1), as wrk keeps one
// request in flight per connection. Its summary and per-request log are
// read into a wrk.Result, so every table and ratio treats the rows alike.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/anyhost/anyhost/internal/wrk"
)

// h2loadBinary is nghttp2-client's h2load (make bench-deps).
func h2loadBinary() (string, error) {
	p, err := exec.LookPath("h2load")
	if err != nil {
		return "", fmt.Errorf("h2load not found (apt-get install nghttp2-client; make bench-deps): %w", err)
	}
	return p, nil
}

// runH2load runs one h2load load against r for d and returns what it
// measured, its output and its own CPU time.
func runH2load(ctx context.Context, cfg config, d time.Duration, r *Running) (res *wrk.Result, stdout, stderr string, cpu time.Duration, err error) {
	bin, err := h2loadBinary()
	if err != nil {
		return nil, "", "", 0, err
	}
	logFile, err := os.CreateTemp("", "anyhost-bench-h2load-*.log")
	if err != nil {
		return nil, "", "", 0, err
	}
	logPath := logFile.Name()
	logFile.Close()
	defer os.Remove(logPath)

	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	conns := cfg.Connections
	if r.Connections > 0 {
		conns = r.Connections
	}
	args := h2loadArgs(cfg, conns, d, logPath, r.URL)
	for _, h := range r.Headers { // before the URL, which h2loadArgs puts last
		args = append(args[:len(args)-1], "-H", h, r.URL)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
		}
	}
	stdout, stderr = o.String(), e.String()
	if err != nil {
		return nil, stdout, stderr, cpu, fmt.Errorf("h2load: %w", err)
	}
	lat, lerr := readH2loadLog(logPath)
	if lerr != nil {
		return nil, stdout, stderr, cpu, lerr
	}
	res, err = parseH2load(stdout, lat)
	return res, stdout, stderr, cpu, err
}

// h2loadArgs are h2load's arguments for a run of d on conns connections.
func h2loadArgs(cfg config, conns int, d time.Duration, logPath, url string) []string {
	return []string{"-D", strconv.Itoa(int(d / time.Second)), "-c", strconv.Itoa(conns), "-t", strconv.Itoa(min(cfg.Threads, conns)),
		"-m", "1", "--log-file", logPath, url}
}

// h2loadVersion is `h2load --version` for the report, when an HTTP/2 row
// runs.
func h2loadVersion(selected []Target) string {
	for _, t := range selected {
		if t.Group == http2Group {
			if bin, err := h2loadBinary(); err == nil {
				return cmdLine(bin, "--version")
			}
			return "h2load NOT FOUND"
		}
	}
	return ""
}

var (
	h2Finished = regexp.MustCompile(`(?m)^finished in \S+, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: (\d+) total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout$`)
	h2Status   = regexp.MustCompile(`(?m)^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx$`)
	h2Latency  = regexp.MustCompile(`(?m)^time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s`)
)

// parseH2load reads h2load's summary (nghttp2 1.52) and the request
// durations of its --log-file into a wrk.Result: req/s and counts from the
// summary, mean and max from its "time for request" line, the percentiles
// from the log. It fails when the summary is missing (no connection at all).
func parseH2load(out string, latencies []time.Duration) (*wrk.Result, error) {
	f, req, st, lat := h2Finished.FindStringSubmatch(out), h2Requests.FindStringSubmatch(out),
		h2Status.FindStringSubmatch(out), h2Latency.FindStringSubmatch(out)
	if f == nil || req == nil || st == nil {
		return nil, errors.New("h2load printed no summary (finished in, requests:, status codes:)")
	}
	num := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	r := &wrk.Result{Requests: num(req[2]), Percentiles: map[string]time.Duration{}}
	r.RequestsPerSec, _ = strconv.ParseFloat(f[1], 64)
	if r.RequestsPerSec > 0 {
		r.Elapsed = time.Duration(float64(r.Requests) / r.RequestsPerSec * float64(time.Second))
	}
	r.Non2xx3xx = num(st[3]) + num(st[4])
	// failed counts errored and timed-out requests and those the server
	// answered with a non-2xx/3xx status; only the socket-level rest is an
	// error of its own.
	r.SocketErrors = wrk.SocketErrors{Read: num(req[4]), Timeout: num(req[5])}
	if lat != nil {
		r.LatencyAvg, _ = time.ParseDuration(lat[3])
		r.LatencyMax, _ = time.ParseDuration(lat[2])
	}
	if len(latencies) > 0 {
		slices.Sort(latencies)
		for _, p := range []float64{50, 75, 90, 99} { // nearest rank
			i := max(0, int(math.Ceil(float64(len(latencies))*p/100))-1)
			r.Percentiles[strconv.FormatFloat(p, 'f', -1, 64)+"%"] = latencies[i]
		}
	}
	return r, nil
}

// readH2loadLog returns the durations of h2load's --log-file: one line per
// request, "START_US<TAB>STATUS<TAB>DURATION_US".
func readH2loadLog(path string) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s: unexpected line %q", filepath.Base(path), sc.Text())
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", filepath.Base(path), sc.Text(), err)
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	return out, sc.Err()
}
