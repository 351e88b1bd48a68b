package core

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// nullWriter is a reusable http.ResponseWriter that allocates nothing per
// request (httptest.ResponseRecorder allocates), so a benchmark shows only
// what the code under test allocates.
type nullWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) WriteHeader(code int)        { w.code = code }
func (w *nullWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func helloSite(tb testing.TB) *Site {
	return newSite(tb, at("/", map[Phase][]Handler{Content: {HandlerFunc(func(r *Request) Status {
		r.ResponseHeader.Set("Content-Type", "text/plain; charset=utf-8")
		r.WriteString("Hello!")
		return OK
	})}}))
}

var helloHandlerFunc = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("Hello!"))
})

func benchHello(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", "/hello", nil)
	w := &nullWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
	if w.code != http.StatusOK || w.n == 0 {
		b.Fatalf("got status %d, %d bytes", w.code, w.n)
	}
}

// BenchmarkSiteHello serves GET /hello through the whole pipeline.
func BenchmarkSiteHello(b *testing.B) { benchHello(b, helloSite(b)) }

// BenchmarkHandlerFuncHello is the same response from a bare net/http
// handler: the difference to BenchmarkSiteHello is the pipeline's cost.
func BenchmarkHandlerFuncHello(b *testing.B) { benchHello(b, helloHandlerFunc) }

// TestSiteHelloAllocs keeps the pipeline's per-request allocations visible in
// test output and bounded.
func TestSiteHelloAllocs(t *testing.T) {
	measure := func(h http.Handler) float64 {
		req := httptest.NewRequest("GET", "/hello", nil)
		w := &nullWriter{h: http.Header{}}
		h.ServeHTTP(w, req) // warm the pool
		return testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
	}
	site, bare := measure(helloSite(t)), measure(helloHandlerFunc)
	t.Logf("allocs per request: site %.0f, bare http.HandlerFunc %.0f, pipeline adds %.0f", site, bare, site-bare)
	assert.LessOrEqual(t, site-bare, 1.0, "the pipeline's per-request allocations grew")
}
