package core

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// panics is a pseudo-status for trace handlers: the handler panics instead of
// returning.
const panics Status = -1000

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

// h returns a handler that records name and returns st (or panics for the
// pseudo-status panics).
func (t *trace) h(name string, st Status) Handler {
	return HandlerFunc(func(r *Request) Status {
		t.add(name)
		if st == panics {
			panic("boom from " + name)
		}
		return st
	})
}

// fn returns a handler that records name and then runs f.
func (t *trace) fn(name string, f func(r *Request) Status) Handler {
	return HandlerFunc(func(r *Request) Status {
		t.add(name)
		return f(r)
	})
}

// newReq builds a Request for target as a net/http host would, bound to a
// fresh recorder.
func newReq(method, target string) (*Request, *httptest.ResponseRecorder) {
	hr := httptest.NewRequest(method, target, nil)
	r := &Request{}
	fromHTTP(r, hr)
	w := httptest.NewRecorder()
	r.bind(w, hr.Context(), nil)
	return r, w
}

// newSite builds a site or fails the test.
func newSite(t testing.TB, locs ...*Location) *Site {
	t.Helper()
	s, err := NewSite(locs)
	require.NoError(t, err)
	return s
}

// at builds a location with handlers per phase.
func at(prefix string, hs map[Phase][]Handler) *Location {
	l := &Location{Prefix: prefix}
	for p, h := range hs {
		l.Handlers[p] = h
	}
	return l
}

// syncBuffer is a bytes.Buffer safe for a logger used by server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newLogger returns a logger writing JSON lines into a buffer.
func newLogger() (*zerolog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	l := zerolog.New(buf)
	return &l, buf
}

// get performs a GET through a test server and returns status, headers and body.
func get(t testing.TB, c *http.Client, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, c, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b.String()
}

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// serveAs serves s to net/http as a host does (host.HTTPHandler), naming
// the adapter and logging to log.
func serveAs(s *Site, adapter string, log *zerolog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.serveHTTP(w, req, adapter, log, nil, time.Time{})
	})
}
