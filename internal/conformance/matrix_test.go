// Package conformance runs the conformance matrix: every shared table
// against every host, and docs/conformance.md from the verdicts.
package conformance_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/internal/testhost"
)

func TestMain(m *testing.M) { testhost.Main(m) }

// DocEnv names the file `make conformance` writes the matrix to; without
// it the run checks that docs/conformance.md is the matrix it found.
const DocEnv = "ANYHOST_CONFORMANCE_DOC"

// The tables, each a site the hosts serve and the cases run against it.
var tables = []struct {
	name string
	run  func(t *testing.T, h testhost.MatrixHost, v *testhost.Verdicts, slapd *testhost.Slapd)
}{
	{"conformance", func(t *testing.T, h testhost.MatrixHost, v *testhost.Verdicts, _ *testhost.Slapd) {
		testhost.RunConformance(t, target(t, h, v, testhost.HostSite{}))
	}},
	{"stacking", func(t *testing.T, h testhost.MatrixHost, v *testhost.Verdicts, _ *testhost.Slapd) {
		site := testhost.WriteSiteFile(t, testhost.StackingSite)
		testhost.RunStacking(t, target(t, h, v, testhost.HostSite{File: site}))
	}},
	{"responses", func(t *testing.T, h testhost.MatrixHost, v *testhost.Verdicts, _ *testhost.Slapd) {
		site := testhost.WriteSiteFile(t, testhost.ResponsesSite)
		testhost.RunResponses(t, target(t, h, v, testhost.HostSite{File: site}))
	}},
	{"phases", func(t *testing.T, h testhost.MatrixHost, v *testhost.Verdicts, _ *testhost.Slapd) {
		dir := filepath.Dir(testhost.WriteSiteFile(t, ""))
		rec := filepath.Join(dir, "phases.log")
		require.NoError(t, os.WriteFile(rec, nil, 0o666))
		require.NoError(t, os.Chmod(rec, 0o666)) // the workers (www-data) append to it
		site := testhost.WriteSiteFile(t, testhost.RecordingSite(rec))
		testhost.RunPhases(t, target(t, h, v, testhost.HostSite{File: site}), rec)
	}},
	{"providers", func(t *testing.T, h testhost.MatrixHost, v *testhost.Verdicts, slapd *testhost.Slapd) {
		site := testhost.WriteAuthSite(t, testhost.NewApacheRoot(t), slapd, true)
		testhost.RunAuthConformance(t, target(t, h, v, testhost.HostSite{File: site.Path, Whole: true}), site)
	}},
}

func target(t *testing.T, h testhost.MatrixHost, v *testhost.Verdicts, s testhost.HostSite) testhost.Target {
	tg := h.Start(t, s)
	tg.ID, tg.Verdicts = h.ID, v
	return tg
}

// TestMatrix runs every table on every host, then checks that every cell
// has a verdict and that docs/conformance.md says what was found.
func TestMatrix(t *testing.T) {
	v := &testhost.Verdicts{}
	slapd := testhost.StartSlapd(t)
	hosts := testhost.MatrixHosts()
	for _, h := range hosts {
		t.Run(h.ID, func(t *testing.T) {
			for _, tb := range tables {
				t.Run(tb.name, func(t *testing.T) { tb.run(t, h, v, slapd) })
			}
		})
	}

	// Every host has a verdict for every case any host ran: a host that
	// did not start, or a case left out for one, shows here.
	cases := map[[2]string]bool{}
	tablesSeen := map[string]bool{}
	got := v.All()
	for k := range got {
		cases[[2]string{k.Table, k.Case}] = true
		tablesSeen[k.Table] = true
	}
	for _, tb := range tables {
		assert.True(t, tablesSeen[tb.name], "table %s has no verdict at all", tb.name)
	}
	var missing []string
	for c := range cases {
		for _, h := range hosts {
			if _, ok := got[testhost.VerdictKey{Host: h.ID, Table: c[0], Case: c[1]}]; !ok {
				missing = append(missing, h.ID+": "+c[0]+"/"+c[1])
			}
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "cells without a verdict")

	doc := Document(hosts, v)
	if path := os.Getenv(DocEnv); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
		return
	}
	committed, err := os.ReadFile(filepath.Join(testhost.ModuleRoot(), "docs", "conformance.md"))
	require.NoError(t, err, "docs/conformance.md: run `make conformance`")
	assert.Equal(t, string(committed), doc, "docs/conformance.md is not what this run found: run `make conformance` and commit it")
}
