package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/internal/listen"
	"github.com/anyhost/anyhost/internal/metrics"
)

// serveMetrics serves m on addr (HOST:PORT or unix:PATH) at /metrics, on a
// listener of its own: the site's locations and auth never apply to it,
// and a firewall or the socket's mode decides who scrapes. It returns once
// listening; the server stops when ctx ends.
func serveMetrics(ctx context.Context, addr string, sock listen.Options, m *metrics.Metrics, log zerolog.Logger) error {
	ln, err := listen.Listen(addr, sock)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info().Str("listen", ln.Addr().String()).Msg("serving metrics at /metrics")
	return nil
}
