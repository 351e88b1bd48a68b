package nginx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/adapters/fastcgi"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/listen"
	"github.com/anyhost/anyhost/internal/secret"
)

// Host serves a site to nginx: the FastCGI responder on FastCGI, which runs
// every phase of the site's locations (their auth phases too), and the
// auth_request endpoint on Auth, for content nginx serves itself. Conf
// writes the matching nginx config.
type Host struct {
	// Site is what it serves; SetSite replaces it while Run serves.
	Site *core.Site
	Log  zerolog.Logger
	// FastCGI and Auth are listen addresses: "unix:/path" or "HOST:PORT".
	// Use unix sockets that only nginx can reach (Socket): whoever can
	// connect to Auth can claim any request (and ask it whether a password
	// is right), and whoever can connect to FastCGI can send any request
	// as if nginx had accepted it.
	FastCGI, Auth string
	// Socket sets the unix sockets' mode and group.
	Socket listen.Options
	// Secrets are the web server's secrets: with any, both sockets refuse
	// requests that do not carry one (another local process on a TCP
	// socket). The responder believes no user either way.
	Secrets *secret.Set
	// ShutdownTimeout bounds the graceful shutdown. Default 10s.
	ShutdownTimeout time.Duration
	// Ready, if set, is called once both sockets listen.
	Ready func()
	// AuthConnState, if set, is told of the auth endpoint's connections as
	// http.Server.ConnState would be (to count them: nginx should reuse
	// them).
	AuthConnState func(net.Conn, http.ConnState)

	sites host.SiteSlot // from SetSite, shared by both sockets
}

// SetSite replaces the site, for the FastCGI responder and the auth endpoint
// at once, for requests that begin from now on; requests in progress finish
// on the site they began with. Safe to call while Run serves (reloading
// the site file on SIGHUP). Limits that became server settings at Run
// (timeouts, header size) keep their old values until a restart; the body
// limit follows the new site.
func (h *Host) SetSite(site *core.Site) { h.sites.Set(site) }

// Run serves until ctx ends, then shuts both servers down gracefully
// (requests in progress may finish, for at most ShutdownTimeout). It returns
// nil after a shutdown asked for by ctx, or the error that stopped a server.
func (h *Host) Run(ctx context.Context) error {
	if h.Site == nil || h.FastCGI == "" || h.Auth == "" {
		return errors.New("nginx host: Site, FastCGI and Auth are required")
	}
	fln, err := listen.Listen(h.FastCGI, h.Socket)
	if err != nil {
		return fmt.Errorf("fastcgi listener: %w", err)
	}
	aln, err := listen.Listen(h.Auth, h.Socket)
	if err != nil {
		fln.Close()
		return fmt.Errorf("auth listener: %w", err)
	}
	site := h.sites.Current(h.Site)
	fs := &fastcgi.Server{Site: h.Site, Sites: &h.sites, Log: h.Log, Secrets: h.Secrets, RunsAuth: true, Adapter: Adapter}
	auth := &AuthHandler{Site: h.Site, Sites: &h.sites, Log: h.Log, Secrets: h.Secrets}
	limits := site.Limits.WithDefaults()
	hs := &authServer{
		Handler:           auth,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		WriteTimeout:      limits.WriteTimeout,
		IdleTimeout:       limits.IdleTimeout,
		// The client's headers plus the few nginx adds.
		MaxHeader: limits.MaxHeader + 16<<10,
		ConnState: h.AuthConnState,
		Log:       h.Log,
	}
	errs := make(chan error, 2)
	go func() { errs <- serveErr(fs.Serve(fln), fastcgi.ErrServerClosed) }()
	go func() { errs <- serveErr(hs.Serve(aln), errAuthServerClosed) }()
	if h.Ready != nil {
		h.Ready()
	}
	h.Log.Info().Str("fastcgi", h.FastCGI).Str("auth", h.Auth).Msg("nginx host: serving")
	var first error
	pending := 2
	select {
	case <-ctx.Done():
	case first = <-errs:
		pending--
	}
	timeout := h.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := fs.Shutdown(sctx); err != nil {
		h.Log.Warn().Err(err).Msg("nginx host: fastcgi shutdown did not finish")
	}
	if err := hs.Shutdown(sctx); err != nil {
		h.Log.Warn().Err(err).Msg("nginx host: auth endpoint shutdown did not finish")
	}
	for ; pending > 0; pending-- {
		if err := <-errs; first == nil {
			first = err
		}
	}
	return first
}

// serveErr drops the error a server returns after Shutdown.
func serveErr(err, closed error) error {
	if errors.Is(err, closed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
