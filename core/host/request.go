// Package host is what hosts (adapters) need and handlers never call:
// binding a core.Request to a response writer, pooling, the environment,
// the swappable site, the net/http server bridge, running the auth phases
// apart from content, and the one translation from CGI variables and from
// a request target to a Request.
//
// A handler author reads core; whoever writes a new host reads this too.
package host

import (
	"context"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/internal/link"
)

// Bind prepares r to send its response through w. Hosts call it once the
// request fields are filled in; ctx and log may be nil.
func Bind(r *core.Request, w http.ResponseWriter, ctx context.Context, log *zerolog.Logger) {
	link.Core.Bind(r, w, ctx, log)
}

// Reset clears r for reuse by a pool, keeping allocated maps.
func Reset(r *core.Request) { link.Core.Reset(r) }

// SetEnv installs the environment a host received with the request (CGI
// variables, FastCGI params). What Env() never shows on any host
// (HTTP_AUTHORIZATION, HTTP_PROXY) is removed from it.
func SetEnv(r *core.Request, env map[string]string) {
	link.HideFromEnv(env)
	link.Core.State(r).Env = env
}

// SetEnvLoader installs a function that fetches the environment on first
// use, for hosts where fetching it costs a call into the server (Apache).
func SetEnvLoader(r *core.Request, load func() map[string]string) {
	link.Core.State(r).EnvLoader = load
}

// EnvLoaded returns the environment if a handler has asked for it, else
// nil: hosts send back only what handlers may have changed.
func EnvLoaded(r *core.Request) map[string]string { return link.Core.State(r).Env }

// PendingRedirect is the local redirect a handler asked for
// (core.Request.LocalRedirect), or "". core.Site.Serve follows it; hosts
// that run the phases from their own hooks (Apache) serve it themselves.
func PendingRedirect(r *core.Request) string { return link.Core.State(r).Redirect }

// PanicLog bounds the log lines of handlers that panic: each handler's
// first few panics are logged with their stack, later ones as a count once
// a minute. A core.Site has its own; hosts that run phases without a Site
// (Apache's directives) give requests theirs with SetPanicLog. The zero
// PanicLog is ready to use.
type PanicLog = link.PanicLog

// SetPanicLog makes p bound the log lines of handlers that panic on r.
func SetPanicLog(r *core.Request, p *PanicLog) { link.Core.State(r).Panics = p }
