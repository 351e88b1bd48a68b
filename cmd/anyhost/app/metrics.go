package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/internal/listen"
	"github.com/anyhost/anyhost/internal/metrics"
)

// serveMetrics serves m on addr (HOST:PORT or unix:PATH) at /metrics, on a
// listener of its own: the site's locations and auth never apply to it,
// and a firewall or the socket's mode decides who scrapes. A unix socket
// is 0660 in the process's own group, never --socket-group's: whoever may
// scrape must not thereby reach the FastCGI sockets. It returns once
// listening; the server stops when ctx ends.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, log zerolog.Logger) error {
	ln, err := listen.Listen(addr, listen.Options{Mode: 0o660})
	if err != nil {
		return err
	}
	if !strings.HasPrefix(addr, "unix:") && !loopback(addr) {
		log.Warn().Str("listen", addr).Msg("metrics on an address other hosts may reach: they show every location's traffic and auth outcomes; keep it behind a firewall")
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

// loopback reports a HOST:PORT on the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
