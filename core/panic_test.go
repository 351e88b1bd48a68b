package core

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
)

// Regression: a handler panicking on every request logged a ~2.3 KB stack
// each time (20 s of load on /panic wrote 600 MB). Now its first panics are
// logged in full, later ones as one line a minute with a count.
func TestPanicLogIsBounded(t *testing.T) {
	boom := HandlerFunc(func(*Request) Status { panic("boom") })
	calm := HandlerFunc(func(r *Request) Status { return OK })
	other := HandlerFunc(func(*Request) Status { panic("other") })
	site := newSite(t, &Location{Prefix: "/p", Handlers: [NumPhases][]Handler{Content: {calm, boom}}},
		&Location{Prefix: "/q", Handlers: [NumPhases][]Handler{Content: {other}}})
	var out bytes.Buffer
	log := zerolog.New(&out)
	serve := func(path string) int {
		hr := httptest.NewRequest("GET", path, nil)
		w := httptest.NewRecorder()
		r := &Request{}
		fromHTTP(r, hr)
		r.bind(w, hr.Context(), &log)
		site.Serve(r)
		return w.Code
	}
	for range 1000 {
		assert.Equal(t, 500, serve("/p"))
	}
	assert.Equal(t, 500, serve("/q"), "another handler has its own count")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Len(t, lines, 3+1) // three stacks in full per handler (link.PanicLog)
	assert.Equal(t, 3+1, strings.Count(out.String(), `"stack"`))
	assert.Less(t, out.Len(), 40<<10, "1001 panics, a few KB of log")
}
