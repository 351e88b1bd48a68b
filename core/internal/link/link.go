// Package link is what core shares with core/host and nobody else: the
// part of a Request only its host sets, and the few operations on it that
// stay core's own code. Handlers cannot import it, which keeps core's
// exported API the handler's contract alone.
//
// Go has no friend packages; this is the usual substitute (an internal
// package whose function table the owning package fills in its init, as
// google.golang.org/grpc/internal does). Core is written once, in core's
// init, and only read after.
package link

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// State is a Request's unexported state, kept by value in the Request so
// that it costs no allocation of its own.
type State struct {
	W         http.ResponseWriter
	Ctx       context.Context
	Log       *zerolog.Logger
	Env       map[string]string
	EnvLoader func() map[string]string
	// HTTP is the *http.Request view, once made (on net/http hosts, the
	// original).
	HTTP   *http.Request
	Panics *PanicLog
	// Redirect is the target of a local redirect a handler asked for.
	Redirect string
	Phase    int
	Started  bool
	Written  int64

	ErrHeader http.Header
	Notes     map[string]string
}

// Core holds core's operations on its own types, for core/host. The
// arguments typed any are a *core.Request, *core.Site and *core.Location.
var Core struct {
	// State returns the request's State.
	State func(r any) *State
	// Bind makes r send its response through w.
	Bind func(r any, w http.ResponseWriter, ctx context.Context, log *zerolog.Logger)
	// Reset clears r for reuse, keeping its maps.
	Reset func(r any)
	// ServeHTTP serves req with site through a pooled Request reporting
	// adapter; done, if not nil, is a func(*core.Request, time.Time) run
	// after the log phase with the time the request began.
	ServeHTTP func(site any, w http.ResponseWriter, req *http.Request, adapter string, log *zerolog.Logger, done any, began time.Time)
	// LocationPanics returns the PanicLog of a location's site.
	LocationPanics func(loc any) *PanicLog
	// ObserveAt makes r report to the observer of loc's site, for hosts
	// that run a location's phases without Site.Serve.
	ObserveAt func(r, loc any)
}

// HideFromEnv removes what a request's environment never shows, whichever
// host made it: credentials, as Apache keeps them from CGI without
// CGIPassAuth (the Authorization header is still the request's), and
// HTTP_PROXY, which a library reading the environment would take for its
// proxy setting (httpoxy, CVE-2016-5385).
func HideFromEnv(env map[string]string) {
	delete(env, "HTTP_AUTHORIZATION")
	delete(env, "HTTP_PROXY_AUTHORIZATION")
	delete(env, "HTTP_PROXY")
}

// DuplicateCredentials reports a request with more than one Authorization
// header, which every host answers 400 (as nginx does itself): which one
// the auth phases checked and which one content sees must never differ.
// Apache merges repeated headers into one, "Basic a, Basic b": for the
// schemes whose credentials are a token68 (Basic, Bearer), which cannot
// hold a comma, that is two headers too.
func DuplicateCredentials(h http.Header) bool {
	v := h["Authorization"]
	switch {
	case len(v) > 1:
		return true
	case len(v) == 0:
		return false
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v[0]), " ")
	return (strings.EqualFold(scheme, "Basic") || strings.EqualFold(scheme, "Bearer")) && strings.Contains(rest, ",")
}
