package main

import (
	"fmt"
	"io"
	"strings"
)

// The goals of the performance issue (13), each judged from rows of the
// same run. A goal is printed when all its rows were selected; one whose
// rows failed is missed.

// goal is one line of the verdict.
type goal struct {
	n    int
	rows []string // full names ("Group: Name") the goal reads
	// judge says whether it is met, with the figures, from the rows'
	// results in rows' order (each ran: Summary.Runs > 0).
	judge func(t []*TargetResult) (bool, string)
}

// GoalResult is one goal's verdict, for --json.
type GoalResult struct {
	N       int    `json:"n"`
	Met     bool   `json:"met"`
	Figures string `json:"figures"`
}

func ratioOf(r *float64) float64 {
	if r == nil {
		return 0
	}
	return *r
}

func goals() []goal {
	var gs []goal
	// 1: Apache in-process at or ahead of mod_python, both as ratios to
	// their own instance's static file.
	judgeMPM := func(mpm string, minRPS, maxCPU float64, ctxWithin float64) func([]*TargetResult) (bool, string) {
		return func(t []*TargetResult) (bool, string) {
			any, py, static := t[0].Summary, t[1].Summary, t[2].Summary
			rps := ratioOf(any.RPSRatio) / ratioOf(py.RPSRatio)
			cpu := ratioOf(any.CPURatio) / ratioOf(py.CPURatio)
			met := rps >= minRPS && cpu <= maxCPU
			s := fmt.Sprintf("%s: anyhost %.2fx req/s %.2fx CPU of its static file, mod_python %.2fx %.2fx: anyhost/mod_python %.2fx req/s (goal >= %.2f), %.2fx CPU (<= %.2f)",
				mpm, ratioOf(any.RPSRatio), ratioOf(any.CPURatio), ratioOf(py.RPSRatio), ratioOf(py.CPURatio), rps, minRPS, cpu, maxCPU)
			if ctxWithin > 0 {
				d := any.CtxPerReq - static.CtxPerReq
				met = met && d <= ctxWithin
				s += fmt.Sprintf(", ctx sw/req %.2f vs static %.2f (+%.2f, goal <= +%.1f)", any.CtxPerReq, static.CtxPerReq, d, ctxWithin)
			}
			return met, s
		}
	}
	both := func(a, b func([]*TargetResult) (bool, string), na int) func([]*TargetResult) (bool, string) {
		return func(t []*TargetResult) (bool, string) {
			m1, s1 := a(t[:na])
			m2, s2 := b(t[na:])
			return m1 && m2, s1 + "; " + s2
		}
	}
	anyhostRow := func(mpm, name string) string { return "apache " + mpm + ": anyhost: " + name }
	gs = append(gs, goal{n: 1,
		rows: []string{
			anyhostRow("event", "anyhost in-process /hello"), "apache event: mod_python: mod_python handler", anyhostRow("event", "static file"),
			anyhostRow("prefork", "anyhost in-process /hello"), "apache prefork: mod_python: mod_python handler", anyhostRow("prefork", "static file"),
		},
		judge: both(judgeMPM("event", 1.0, 1.0, 0), judgeMPM("prefork", 0.95, 1.05, 0.3), 3),
	})

	// 2: daemon mode (mod_proxy_fcgi -> anyhost FastCGI) at least as good as
	// mod_proxy_http -> bare net/http, under both MPMs.
	judgeDaemon := func(mpm string) func([]*TargetResult) (bool, string) {
		return func(t []*TargetResult) (bool, string) {
			fcgi, proxy := t[0].Summary, t[1].Summary
			met := fcgi.RPS >= proxy.RPS && fcgi.CPUUsPerReq <= proxy.CPUUsPerReq
			return met, fmt.Sprintf("%s: fcgi %.0f req/s %.1f us/req (httpd %.1f + Go %.1f), proxy_http %.0f req/s %.1f us/req (httpd %.1f + Go %.1f): %.2fx req/s, %.2fx CPU",
				mpm, fcgi.RPS, fcgi.CPUUsPerReq, fcgi.CPUUsPerReq-fcgi.BackendCPUUs, fcgi.BackendCPUUs,
				proxy.RPS, proxy.CPUUsPerReq, proxy.CPUUsPerReq-proxy.BackendCPUUs, proxy.BackendCPUUs,
				fcgi.RPS/proxy.RPS, fcgi.CPUUsPerReq/proxy.CPUUsPerReq)
		}
	}
	gs = append(gs, goal{n: 2,
		rows: []string{
			anyhostRow("event", "mod_proxy_fcgi -> anyhost FastCGI"), anyhostRow("event", "mod_proxy_http -> barehello"),
			anyhostRow("prefork", "mod_proxy_fcgi -> anyhost FastCGI"), anyhostRow("prefork", "mod_proxy_http -> barehello"),
		},
		judge: both(judgeDaemon("event"), judgeDaemon("prefork"), 2),
	})

	// 3: nginx, an authenticated FastCGI location at 0.9x of an open one.
	gs = append(gs, goal{n: 3,
		rows: []string{nginxGroup + ": " + nginxAuthzRow, nginxGroup + ": " + nginxHelloRow},
		judge: func(t []*TargetResult) (bool, string) {
			authz, hello := t[0].Summary, t[1].Summary
			r := authz.RPS / hello.RPS
			return r >= 0.9, fmt.Sprintf("authenticated /authz %.0f req/s %.1f us/req, FastCGI /hello %.0f req/s %.1f us/req: %.2fx req/s (goal >= 0.90), %.2fx CPU",
				authz.RPS, authz.CPUUsPerReq, hello.RPS, hello.CPUUsPerReq, r, authz.CPUUsPerReq/hello.CPUUsPerReq)
		},
	})

	// 4: the standalone access log nearly free.
	gs = append(gs, goal{n: 4,
		rows: []string{"standalone: anyhost standalone /hello, access log", "standalone: anyhost standalone /hello"},
		judge: func(t []*TargetResult) (bool, string) {
			on, off := t[0].Summary, t[1].Summary
			r := on.RPS / off.RPS
			return r >= 0.95, fmt.Sprintf("access log on %.0f req/s %.1f us/req, off %.0f req/s %.1f us/req: %.2fx req/s (goal >= 0.95), %.2fx CPU",
				on.RPS, on.CPUUsPerReq, off.RPS, off.CPUUsPerReq, r, on.CPUUsPerReq/off.CPUUsPerReq)
		},
	})
	return gs
}

// judgeGoals returns the verdicts of the goals whose rows all ran in rep
// (were selected), then goal 5 when the pipeline ran.
func judgeGoals(rep *Report) []GoalResult {
	byName := map[string]*TargetResult{}
	for _, t := range rep.Targets {
		byName[t.fullName()] = t
	}
	var out []GoalResult
	for _, g := range goals() {
		var rows []*TargetResult
		var failed []string
		for _, name := range g.rows {
			t := byName[name]
			if t == nil {
				break
			}
			if t.Summary.Runs == 0 || t.Summary.RunsCPU == 0 {
				failed = append(failed, name)
			}
			rows = append(rows, t)
		}
		switch {
		case len(rows) < len(g.rows):
			continue // not selected
		case len(failed) > 0:
			out = append(out, GoalResult{N: g.n, Figures: "no figures from " + strings.Join(failed, ", ")})
		default:
			met, figures := g.judge(rows)
			out = append(out, GoalResult{N: g.n, Met: met, Figures: figures})
		}
	}
	if rep.Pipeline != nil {
		met, figures := pipelineGoal(rep.Pipeline)
		out = append(out, GoalResult{N: 5, Met: met, Figures: figures})
	}
	return out
}

// printGoals writes one line per goal, from the line's first column:
// "goal N: met|missed (figures)".
func printGoals(w io.Writer, gs []GoalResult) {
	if len(gs) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, g := range gs {
		verdict := "missed"
		if g.Met {
			verdict = "met"
		}
		fmt.Fprintf(w, "goal %d: %s (%s)\n", g.N, verdict, g.Figures)
	}
}
