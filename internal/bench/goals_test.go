package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBaselineParses(t *testing.T) {
	f, err := os.Open("testdata/pipeline.txt")
	require.NoError(t, err)
	defer f.Close()
	base, err := readBenchStats(f, "pipeline.txt")
	require.NoError(t, err)
	require.Contains(t, base, "SiteHello-2")
	assert.Len(t, base, 8)
	for name, s := range base {
		assert.Equal(t, 6, s.Runs, name)
		assert.Greater(t, s.NsPerOp, 0.0, name)
	}
	assert.Equal(t, 2.0, base["SiteHello-2"].AllocsPerOp)
}

func TestPipelineGoal(t *testing.T) {
	base := map[string]benchStat{"A-2": {NsPerOp: 100, AllocsPerOp: 2}, "B-2": {NsPerOp: 1000, AllocsPerOp: 5}}
	met, figures := pipelineGoal(&PipelineResult{Baseline: base,
		Now: map[string]benchStat{"A-2": {NsPerOp: 109, AllocsPerOp: 2}, "B-2": {NsPerOp: 500, AllocsPerOp: 1}, "New-2": {NsPerOp: 1}}})
	assert.True(t, met, figures)
	assert.Contains(t, figures, "slowest A-2 at 1.09x")

	met, figures = pipelineGoal(&PipelineResult{Baseline: base, Now: map[string]benchStat{"A-2": {NsPerOp: 90, AllocsPerOp: 3}, "B-2": {NsPerOp: 1200, AllocsPerOp: 5}}})
	assert.False(t, met)
	assert.Contains(t, figures, "A-2 0.90x ns/op, 3 vs 2 allocs/op")
	assert.Contains(t, figures, "B-2 1.20x")

	met, figures = pipelineGoal(&PipelineResult{Baseline: base, Now: map[string]benchStat{"A-2": {NsPerOp: 90, AllocsPerOp: 2}}})
	assert.False(t, met, "a baseline benchmark that no longer runs misses the goal")
	assert.Contains(t, figures, "B-2 not run")
}

// Only goals whose rows all ran are judged; each line starts "goal N: ".
func TestJudgeGoals(t *testing.T) {
	row := func(group, name string, rps, cpu float64) *TargetResult {
		return &TargetResult{Group: group, Name: name, Summary: Summary{Runs: 3, RunsCPU: 3, RPS: rps, CPUUsPerReq: cpu}}
	}
	rep := &Report{Targets: []*TargetResult{
		row("standalone", "anyhost standalone /hello", 1000, 10),
		row("standalone", "anyhost standalone /hello, access log", 960, 10.5),
		row(nginxGroup, nginxHelloRow, 1000, 20),
		{Group: nginxGroup, Name: nginxAuthzRow}, // selected, no runs
	}}
	gs := judgeGoals(rep)
	require.Len(t, gs, 2)
	assert.Equal(t, GoalResult{N: 3, Figures: "no figures from nginx: " + nginxAuthzRow}, gs[0])
	assert.Equal(t, 4, gs[1].N)
	assert.True(t, gs[1].Met, gs[1].Figures)
	assert.Contains(t, gs[1].Figures, "0.96x req/s")

	var b strings.Builder
	printGoals(&b, gs)
	assert.Regexp(t, regexp.MustCompile(`(?m)^goal 3: missed \(no figures`), b.String())
	assert.Regexp(t, regexp.MustCompile(`(?m)^goal 4: met \(access log on 960 req/s`), b.String())
}

// Every row a goal reads is in the table.
func TestGoalRowsExist(t *testing.T) {
	names := map[string]bool{}
	for _, tg := range targets() {
		names[tg.FullName()] = true
	}
	for _, g := range goals() {
		for _, r := range g.rows {
			assert.True(t, names[r], "goal %d reads %q", g.n, r)
		}
	}
}

func TestRatio(t *testing.T) {
	for x, want := range map[float64]string{
		1: "1.00x", 637.9: "637.90x", 0.1: "0.10x", 0.094: "0.094x", 0.00077: "0.00077x", 0.0007651: "0.00077x", 0: "0.00x",
	} {
		assert.Equal(t, want, ratio(x), "%g", x)
	}
}
