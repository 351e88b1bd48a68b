package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// The pipeline's Go benchmarks (go test -bench): what one request costs in
// the core and in each adapter's own code, without a network. Their
// baseline is testdata/pipeline.txt, taken on main right after the security
// issue (the command is in its header; CacheHit was in ./core then).
var pipelinePackages = []string{"./core/", "./authn/basic/", "./adapters/standalone/", "./adapters/fastcgi/", "./adapters/apache/bridge/"}

const (
	pipelineBaseline = "internal/bench/testdata/pipeline.txt"
	// pipelineSelector is what --only matches to run the pipeline.
	pipelineSelector = "pipeline: go test -bench"
)

// benchStat is one benchmark's medians over its runs.
type benchStat struct {
	NsPerOp     float64 `json:"ns_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	Runs        int     `json:"runs"`
}

// PipelineResult is the pipeline's run and its baseline, by benchmark name
// (package left out: the baseline's packages were laid out differently).
type PipelineResult struct {
	Baseline map[string]benchStat `json:"baseline"`
	Now      map[string]benchStat `json:"now"`
	Output   string               `json:"output"`
	Error    string               `json:"error,omitempty"`
}

// readBenchStats parses Go benchmark output.
func readBenchStats(r io.Reader, file string) (map[string]benchStat, error) {
	values := map[string]map[string][]float64{}
	br := benchfmt.NewReader(r, file)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // config lines, unit lines, syntax errors in noise
		}
		name := res.Name.String()
		if values[name] == nil {
			values[name] = map[string][]float64{}
		}
		for _, v := range res.Values {
			values[name][v.Unit] = append(values[name][v.Unit], v.Value)
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}
	out := map[string]benchStat{}
	for name, units := range values {
		out[name] = benchStat{
			NsPerOp: median(units["sec/op"]) * 1e9, AllocsPerOp: median(units["allocs/op"]),
			BytesPerOp: median(units["B/op"]), Runs: len(units["sec/op"]),
		}
	}
	return out, nil
}

// runPipeline runs the pipeline's benchmarks count times each and reads
// the baseline.
func runPipeline(ctx context.Context, count int) *PipelineResult {
	res := &PipelineResult{}
	f, err := os.Open(filepath.Join(repoRoot, pipelineBaseline))
	if err == nil {
		res.Baseline, err = readBenchStats(f, pipelineBaseline)
		f.Close()
	}
	if err != nil {
		res.Error = fmt.Sprintf("baseline %s: %v", pipelineBaseline, err)
		return res
	}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(count)}, pipelinePackages...)
	logf("pipeline: go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	res.Output = out.String()
	if err != nil {
		res.Error = fmt.Sprintf("go test -bench: %v: %s", err, lastLines(res.Output, 10))
		return res
	}
	if res.Now, err = readBenchStats(&out, "go test -bench"); err != nil {
		res.Error = err.Error()
	}
	return res
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pipelineRow is one benchmark against its baseline.
type pipelineRow struct {
	name            string
	base, now       benchStat
	nsRatio         float64
	inBase, measure bool
}

// rows lists every benchmark of the baseline and of the run, by name.
func (p *PipelineResult) rows() []pipelineRow {
	names := map[string]bool{}
	for n := range p.Baseline {
		names[n] = true
	}
	for n := range p.Now {
		names[n] = true
	}
	var rows []pipelineRow
	for n := range names {
		b, inBase := p.Baseline[n]
		now, measured := p.Now[n]
		r := pipelineRow{name: n, base: b, now: now, inBase: inBase, measure: measured}
		if inBase && measured && b.NsPerOp > 0 {
			r.nsRatio = now.NsPerOp / b.NsPerOp
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	return rows
}

// Goal 5's rule: allocs/op at most the baseline's, ns/op at most 1.1x.
const pipelineNsTolerance = 1.1

func printPipeline(w io.Writer, p *PipelineResult) {
	fmt.Fprintf(w, "\n== %s ==\n", pipelineSelector)
	if p.Error != "" {
		fmt.Fprintf(w, "FAILED: %s\n", p.Error)
		return
	}
	table := [][]string{{"benchmark", "ns/op", "baseline", "ratio", "allocs/op", "baseline", "B/op", "baseline", "verdict"}}
	for _, r := range p.rows() {
		verdict := "ok"
		switch {
		case !r.measure:
			verdict = "not run (gone?)"
		case !r.inBase:
			verdict = "new (no baseline)"
		case r.now.AllocsPerOp > r.base.AllocsPerOp:
			verdict = "MORE ALLOCS"
		case r.nsRatio > pipelineNsTolerance:
			verdict = "SLOWER"
		}
		table = append(table, []string{r.name, fmtNs(r.now.NsPerOp, r.measure), fmtNs(r.base.NsPerOp, r.inBase),
			fmtPipelineRatio(r), fmtCount(r.now.AllocsPerOp, r.measure), fmtCount(r.base.AllocsPerOp, r.inBase),
			fmtCount(r.now.BytesPerOp, r.measure), fmtCount(r.base.BytesPerOp, r.inBase), verdict})
	}
	writeAligned(w, table)
	fmt.Fprintf(w, "  medians of %d runs each; baseline: %s (main right after the security issue, on this kind of machine)\n",
		maxRuns(p.Now), pipelineBaseline)
}

func maxRuns(m map[string]benchStat) int {
	n := 0
	for _, s := range m {
		n = max(n, s.Runs)
	}
	return n
}

func fmtNs(ns float64, ok bool) string {
	if !ok {
		return "-"
	}
	if ns >= 1e6 {
		return fmt.Sprintf("%.2fms", ns/1e6)
	}
	return fmt.Sprintf("%.0fns", ns)
}

func fmtCount(x float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

func fmtPipelineRatio(r pipelineRow) string {
	if r.nsRatio == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r.nsRatio)
}

// pipelineGoal evaluates goal 5.
func pipelineGoal(p *PipelineResult) (met bool, figures string) {
	if p.Error != "" {
		return false, "did not run: " + firstLine(p.Error)
	}
	var bad, all []string
	worst := pipelineRow{}
	for _, r := range p.rows() {
		if !r.inBase {
			continue
		}
		if !r.measure {
			bad = append(bad, r.name+" not run")
			continue
		}
		if r.nsRatio > worst.nsRatio {
			worst = r
		}
		all = append(all, r.name)
		if r.now.AllocsPerOp > r.base.AllocsPerOp || r.nsRatio > pipelineNsTolerance {
			bad = append(bad, fmt.Sprintf("%s %.2fx ns/op, %s vs %s allocs/op", r.name, r.nsRatio,
				fmtCount(r.now.AllocsPerOp, true), fmtCount(r.base.AllocsPerOp, true)))
		}
	}
	if len(bad) > 0 {
		return false, strings.Join(bad, "; ")
	}
	return true, fmt.Sprintf("%d benchmarks: allocs/op <= baseline, ns/op <= %.1fx (slowest %s at %.2fx)",
		len(all), pipelineNsTolerance, worst.name, worst.nsRatio)
}
