package testhost

import (
	"slices"
	"sync"
	"testing"
)

// Verdicts collects what the conformance matrix found: for each host, table
// and case, whether it passed, and where a host forces a difference the
// reason (the case then checks that host's own answer).
type Verdicts struct {
	mu    sync.Mutex
	rows  map[VerdictKey]Verdict
	order []VerdictKey // as first recorded: each table's own order
}

// VerdictKey names one cell of the matrix.
type VerdictKey struct{ Host, Table, Case string }

// Verdict is one cell.
type Verdict struct {
	Passed bool
	// Differs is why this host answers differently, "" where it answers as
	// every host does.
	Differs string
}

// record notes the outcome of t, a case's subtest that has ended.
func (v *Verdicts) record(host, table, name string, passed bool, differs string) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.rows == nil {
		v.rows = map[VerdictKey]Verdict{}
	}
	k := VerdictKey{host, table, name}
	if _, ok := v.rows[k]; !ok {
		v.order = append(v.order, k)
	}
	v.rows[k] = Verdict{Passed: passed, Differs: differs}
}

// All returns every cell.
func (v *Verdicts) All() map[VerdictKey]Verdict {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[VerdictKey]Verdict, len(v.rows))
	for k, r := range v.rows {
		out[k] = r
	}
	return out
}

// Keys returns the cells' keys in the order they were first recorded.
func (v *Verdicts) Keys() []VerdictKey {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.order)
}

// runCase runs one case of table as a subtest of t and records its verdict
// under tg's host; differs is the host's reason to answer differently.
func runCase(t *testing.T, tg Target, table, name, differs string, f func(t *testing.T)) {
	passed := t.Run(name, f)
	tg.Verdicts.record(tg.ID, table, name, passed, differs)
}
