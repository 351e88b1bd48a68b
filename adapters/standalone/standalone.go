// Package standalone serves a site with Go's own net/http server: the host
// runs every phase itself. TCP or a unix socket, TLS with HTTP/2 when given a
// certificate, limits from the site, graceful shutdown.
package standalone

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/listen"
)

// Server is a standalone host.
type Server struct {
	// Site is what it serves; SetSite replaces it while Run serves.
	Site *core.Site
	// Listen is "HOST:PORT" or "unix:/path/to.sock". Default 127.0.0.1:8080.
	Listen string
	// CertFile and KeyFile turn on TLS (with HTTP/2) when both are set.
	CertFile, KeyFile string
	// Log receives error and access log lines.
	Log zerolog.Logger
	// AccessLog writes one line per request at info level.
	AccessLog bool
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after the context ends. Default 30s.
	ShutdownTimeout time.Duration
	// Socket sets a unix socket's mode and group (default 0660).
	Socket listen.Options
	// Ready, if set, is called with the bound address once listening.
	Ready func(addr net.Addr)

	sites   host.SiteSlot    // from SetSite
	handler host.HTTPHandler // made by Run before it serves
}

// SetSite replaces the site for requests that begin from now on; requests
// in progress finish on the site they began with. Safe to call while Run
// serves (reloading the site file on SIGHUP). Limits that became server
// settings at Run (timeouts, header size) keep their old values until a
// restart; the body limit follows the new site.
func (s *Server) SetSite(site *core.Site) { s.sites.Set(site) }

// serveHTTP serves one request with the current site.
func (s *Server) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.ProtoMajor == 1 && len(req.TransferEncoding) > 0 {
		// RFC 9112 6.1: a request with both Transfer-Encoding and
		// Content-Length may be smuggling one request in another, and
		// the connection must be closed after it. net/http drops the
		// Content-Length before the handler runs, so whether both came
		// cannot be told here: every HTTP/1.1 request with a chunked body
		// ends its connection (keep-alive is lost for those only).
		w = &closeAfter{w}
	}
	s.handler.ServeHTTP(w, req)
}

// Adapter is the name requests report in Request.Adapter.
const Adapter = "standalone"

// Run serves until ctx ends, then shuts down gracefully: it stops accepting,
// lets in-flight requests finish (up to ShutdownTimeout) and returns.
func (s *Server) Run(ctx context.Context) error {
	ln, err := s.listen()
	if err != nil {
		return err
	}
	site := s.sites.Current(s.Site)
	s.handler = host.HTTPHandler{Site: s.Site, Sites: &s.sites, Adapter: Adapter, Log: &s.Log}
	if s.AccessLog {
		s.handler.Done = s.access
	}
	limits := site.Limits.WithDefaults()
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		ReadTimeout:       limits.ReadTimeout,
		WriteTimeout:      limits.WriteTimeout,
		IdleTimeout:       limits.IdleTimeout,
		// net/http allows 4 KiB beyond this; the limit is still enforced
		// with 431 Request Header Fields Too Large.
		MaxHeaderBytes: limits.MaxHeader,
		ErrorLog:       log.New(zerologWriter{s.Log}, "", 0),
		Protocols:      new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	tlsOn := s.CertFile != "" && s.KeyFile != ""
	if tlsOn {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.Ready != nil {
		s.Ready(ln.Addr())
	}
	s.Log.Info().Str("listen", ln.Addr().String()).Bool("tls", tlsOn).Msg("serving")

	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, s.CertFile, s.KeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	timeout := s.ShutdownTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	s.Log.Info().Stringer("timeout", timeout).Msg("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.Log.Info().Msg("stopped")
	return nil
}

func (s *Server) listen() (net.Listener, error) {
	addr := s.Listen
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	return listen.Listen(addr, s.Socket)
}

func (s *Server) access(r *core.Request, start time.Time) {
	s.Log.Info().Str("remote", r.RemoteAddr).Str("method", r.Method).Str("uri", r.URI).
		Str("proto", r.Proto).Int("status", r.StatusCode()).Int64("bytes", r.BytesWritten()).
		Str("user", r.User).Dur("duration_ms", time.Since(start)).Msg("access")
}

// zerologWriter sends net/http's own error log (TLS handshake errors,
// malformed requests) to the host's log.
type zerologWriter struct{ log zerolog.Logger }

func (w zerologWriter) Write(p []byte) (int, error) {
	w.log.Warn().Str("source", "net/http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// closeAfter adds "Connection: close" to the response as it starts, after
// the error path (which replaces the headers) has run.
type closeAfter struct{ http.ResponseWriter }

func (c *closeAfter) WriteHeader(code int) {
	c.ResponseWriter.Header().Set("Connection", "close")
	c.ResponseWriter.WriteHeader(code)
}

func (c *closeAfter) Write(p []byte) (int, error) {
	c.ResponseWriter.Header().Set("Connection", "close")
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.NewResponseController reach net/http's writer.
func (c *closeAfter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
