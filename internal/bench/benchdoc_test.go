package main

import (
	"image"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/wrk"
)

// The document names every row with its figures, and its plots are PNG
// images with a bar per row.
func TestWriteDoc(t *testing.T) {
	run := func(rps float64, cpu float64) RunResult {
		return RunResult{Wrk: &wrk.Result{Requests: 1000, RequestsPerSec: rps, Percentiles: map[string]time.Duration{"50%": time.Millisecond, "99%": 3 * time.Millisecond}},
			CPUValid: true, CPUUsPerReq: cpu, CtxPerReq: 1, RSSKiBPerProc: 20480}
	}
	rep := &Report{Meta: Meta{CPUModel: "test CPU", NProc: 2, Kernel: "6.x", LoadAvg: "0.1 0.1 0.1", LoadAvgEnd: "1.9 1.2 0.8", Rounds: 2}}
	for _, r := range []struct {
		group, name string
		baseline    bool
		rps, cpu    float64
	}{
		{"apache event: anyhost", "static file", true, 20000, 50},
		{"apache event: anyhost", "anyhost in-process /hello", false, 15000, 70},
		{"apache event: anyhost", "CGI hello via mod_cgid", false, 900, 1500},
		{"nginx", "static file", true, 48000, 22},
	} {
		tr := &TargetResult{Group: r.group, Name: r.name, Baseline: r.baseline,
			Runs: []RunResult{run(r.rps*0.95, r.cpu*0.9), run(r.rps, r.cpu), run(r.rps*1.05, r.cpu*1.1)}}
		rep.Targets = append(rep.Targets, tr)
	}
	rep.Targets = append(rep.Targets, &TargetResult{Group: "nginx", Name: "module /hello", StartError: "no nginx-dev"})
	summarize(rep.Targets)
	rep.Goals = []GoalResult{{N: 3, Met: true, Figures: "1.05x req/s"}}
	dir := t.TempDir()
	require.NoError(t, writeDoc(dir, rep, "go run ./internal/bench --doc docs"))

	md, err := os.ReadFile(filepath.Join(dir, docFile))
	require.NoError(t, err)
	text := string(md)
	assert.Contains(t, text, "| anyhost in-process /hello | 15000 (14250–15750) | 1.00 | 3.00 | 70.0 | 1.00 | 20.0 | 0.75x, 1.40x | 16.7x, 0.047x |")
	assert.Contains(t, text, "| module /hello | did not start |")
	assert.Contains(t, text, "test CPU, 2 cores")
	assert.Contains(t, text, "0.1 0.1 0.1 before, 1.9 1.2 0.8 after")
	assert.Contains(t, text, "`go run ./internal/bench --doc docs`")
	for _, f := range []string{rpsPlotFile, cpuPlotFile} {
		assert.Contains(t, text, "]("+f+")")
		fh, err := os.Open(filepath.Join(dir, f))
		require.NoError(t, err)
		img, format, err := image.Decode(fh)
		fh.Close()
		require.NoError(t, err, f)
		assert.Equal(t, "png", format)
		assert.Greater(t, img.Bounds().Dy(), 4*14, "a bar per row")
	}
	assert.Equal(t, 1, strings.Count(text, "## nginx\n"))
	assert.Contains(t, text, "## Goals\n\n```text\ngoal 3: met (1.05x req/s)\n```\n")
	assert.NotContains(t, text, "## The seed's table", "no seed rows ran: no section")
}
