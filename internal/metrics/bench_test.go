package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	_ "github.com/anyhost/anyhost/builtin"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/internal/metrics"
)

// discard is a ResponseWriter that allocates nothing per request.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) WriteHeader(int)             {}
func (discard) Write(p []byte) (int, error) { return len(p), nil }

// What --metrics-listen adds to a request: the demo's /hello through the
// whole pipeline, without and with the Prometheus observer.
func BenchmarkHelloMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			cfg, err := config.Parse("b.toml", ".", []byte("[[location]]\npath = \"/hello\"\ncontent = [\"demo.hello\"]\n"))
			require.NoError(b, err)
			site, err := cfg.Build()
			require.NoError(b, err)
			if on {
				site.SetObserver(metrics.New("standalone", "bench"))
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/hello", nil)
				w := discard{http.Header{}}
				for pb.Next() {
					site.ServeHTTP(w, req)
				}
			})
		})
	}
}
