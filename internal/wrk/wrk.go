// Package wrk runs the wrk load generator and reads what it prints; the
// benchmarks and the load tests share it.
package wrk

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Result is what one `wrk --latency` run reported.
type Result struct {
	Requests       int64         `json:"requests"`         // "N requests in D, X read"
	Elapsed        time.Duration `json:"elapsed_ns"`       // D from the same line
	RequestsPerSec float64       `json:"requests_per_sec"` // "Requests/sec:"
	LatencyAvg     time.Duration `json:"latency_avg_ns"`
	LatencyMax     time.Duration `json:"latency_max_ns"`
	// Latency percentiles from the "Latency Distribution" block, keyed "50%", "75%", "90%", "99%".
	Percentiles  map[string]time.Duration `json:"latency_percentiles_ns"`
	SocketErrors SocketErrors             `json:"socket_errors"`
	// Non2xx3xx counts responses with a status outside 200-399
	// (wrk's "Non-2xx or 3xx responses" line).
	Non2xx3xx int64 `json:"non_2xx_3xx"`
}

// SocketErrors is wrk's "Socket errors:" line; wrk omits the line when all are zero.
type SocketErrors struct {
	Connect int64 `json:"connect"`
	Read    int64 `json:"read"`
	Write   int64 `json:"write"`
	Timeout int64 `json:"timeout"`
}

// Total is the sum of all socket error kinds.
func (s SocketErrors) Total() int64 { return s.Connect + s.Read + s.Write + s.Timeout }

func (s SocketErrors) String() string {
	return fmt.Sprintf("connect %d, read %d, write %d, timeout %d", s.Connect, s.Read, s.Write, s.Timeout)
}

// P99 returns the 99th percentile latency (0 if wrk did not report it).
func (r *Result) P99() time.Duration { return r.Percentiles["99%"] }

// ErrorText describes the errors of a run, e.g. "12 of 3400 responses
// non-2xx/3xx; socket errors: connect 0, read 3, write 0, timeout 0".
func (r *Result) ErrorText() string {
	var parts []string
	if r.Non2xx3xx > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d responses non-2xx/3xx", r.Non2xx3xx, r.Requests))
	}
	if r.SocketErrors.Total() > 0 {
		parts = append(parts, "socket errors: "+r.SocketErrors.String())
	}
	return strings.Join(parts, "; ")
}

// Errors reports whether wrk saw non-2xx/3xx responses or socket errors.
func (r *Result) Errors() bool { return r.Non2xx3xx > 0 || r.SocketErrors.Total() > 0 }

var (
	reRequests   = regexp.MustCompile(`^(\d+) requests in (\S+), \S+ read$`)
	reReqPerSec  = regexp.MustCompile(`^Requests/sec:\s+([0-9.]+)$`)
	reLatency    = regexp.MustCompile(`^Latency\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+$`)
	rePercentile = regexp.MustCompile(`^(\d+(?:\.\d+)?%)\s+(\S+)$`)
	reSocketErrs = regexp.MustCompile(`^Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)$`)
	reNon2xx     = regexp.MustCompile(`^Non-2xx or 3xx responses: (\d+)$`)
)

// Parse parses the text wrk 4.x prints with --latency (stdout only).
// It fails when the summary lines (request count, Requests/sec) are missing,
// which is what happens when wrk cannot connect at all.
func Parse(out string) (*Result, error) {
	r := &Result{Percentiles: map[string]time.Duration{}}
	var haveRequests, haveRPS, inDist bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line == "Latency Distribution" {
			inDist = true
			continue
		}
		if inDist {
			if m := rePercentile.FindStringSubmatch(line); m != nil {
				d, err := parseDuration(m[2])
				if err != nil {
					return nil, fmt.Errorf("latency %s: %w", m[1], err)
				}
				r.Percentiles[m[1]] = d
				continue
			}
			inDist = false
		}
		switch {
		case reLatency.MatchString(line):
			m := reLatency.FindStringSubmatch(line)
			var err error
			if r.LatencyAvg, err = parseDuration(m[1]); err != nil {
				return nil, fmt.Errorf("latency avg: %w", err)
			}
			if r.LatencyMax, err = parseDuration(m[3]); err != nil {
				return nil, fmt.Errorf("latency max: %w", err)
			}
		case reRequests.MatchString(line):
			m := reRequests.FindStringSubmatch(line)
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("request count: %w", err)
			}
			d, err := parseDuration(m[2])
			if err != nil {
				return nil, fmt.Errorf("elapsed: %w", err)
			}
			r.Requests, r.Elapsed, haveRequests = n, d, true
		case reReqPerSec.MatchString(line):
			f, err := strconv.ParseFloat(reReqPerSec.FindStringSubmatch(line)[1], 64)
			if err != nil {
				return nil, fmt.Errorf("requests/sec: %w", err)
			}
			r.RequestsPerSec, haveRPS = f, true
		case reSocketErrs.MatchString(line):
			m := reSocketErrs.FindStringSubmatch(line)
			vals := make([]int64, 4)
			for i := range vals {
				v, err := strconv.ParseInt(m[i+1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("socket errors: %w", err)
				}
				vals[i] = v
			}
			r.SocketErrors = SocketErrors{Connect: vals[0], Read: vals[1], Write: vals[2], Timeout: vals[3]}
		case reNon2xx.MatchString(line):
			n, err := strconv.ParseInt(reNon2xx.FindStringSubmatch(line)[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("non-2xx count: %w", err)
			}
			r.Non2xx3xx = n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !haveRequests || !haveRPS {
		return nil, errors.New("wrk output has no summary (\"N requests in\" / \"Requests/sec:\" lines missing)")
	}
	return r, nil
}

// parseDuration parses wrk's time format: a decimal number followed by
// us, ms, s, m or h ("671.00us", "1.52ms", "2.01s", "1.00m").
func parseDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{ // longest suffixes first: "ms" and "us" end in "s"
		{"us", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
	}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("bad wrk duration %q", s)
		}
		return time.Duration(math.Round(f * float64(u.unit))), nil
	}
	return 0, fmt.Errorf("bad wrk duration %q (unknown unit)", s)
}

// Args is the command line of one load run.
func Args(threads, connections int, d time.Duration, url string) []string {
	return []string{
		fmt.Sprintf("-t%d", threads),
		fmt.Sprintf("-c%d", connections),
		fmt.Sprintf("-d%ds", int(d.Round(time.Second)/time.Second)),
		"--latency",
		url,
	}
}
