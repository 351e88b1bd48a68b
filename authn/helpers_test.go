package authn_test

import (
	"bytes"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
)

// trace records which handlers ran, in order. It is safe for use from a
// server goroutine.
type trace struct {
	mu  sync.Mutex
	ran []string
}

func (t *trace) add(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ran = append(t.ran, name)
}

func (t *trace) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.ran...)
}

func (t *trace) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ran = nil
}

// fn returns a handler that records name and then runs f.
func (t *trace) fn(name string, f func(r *core.Request) core.Status) core.Handler {
	return core.HandlerFunc(func(r *core.Request) core.Status {
		t.add(name)
		return f(r)
	})
}

// newSite builds a site or fails the test.
func newSite(t testing.TB, locs ...*core.Location) *core.Site {
	t.Helper()
	s, err := core.NewSite(locs)
	require.NoError(t, err)
	return s
}

// at builds a location with handlers per phase.
func at(prefix string, hs map[core.Phase][]core.Handler) *core.Location {
	l := &core.Location{Prefix: prefix}
	for p, h := range hs {
		l.Handlers[p] = h
	}
	return l
}

// get performs a GET through a test server and returns status, headers and body.
func get(t testing.TB, c *http.Client, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b.String()
}
