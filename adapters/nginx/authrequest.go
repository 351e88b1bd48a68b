// Package nginx serves a site behind nginx: our FastCGI responder
// (adapters/fastcgi) runs every phase of the site's locations, the auth
// phases included, in one round trip; AuthHandler answers nginx's
// auth_request subrequest over HTTP keepalive on a unix socket, for content
// nginx serves itself under a site location with auth; Conf writes the
// nginx configuration joining them.
//
// Why HTTP for the auth check: auth_request over FastCGI never reuses
// connections (the subrequest is header-only and nginx's FastCGI module only
// marks a connection reusable after END_REQUEST); over HTTP keepalive it does
// when the reply is a 204 or has Content-Length: 0 (HOSTS.md).
//
// Host differences, as DESIGN.md lists them: translate never runs (nginx
// matches locations itself). Through auth_request, the auth phases run in a
// GET subrequest with no request body, the original method, URI and client
// address arrive as headers set by nginx, and nginx honours only 2xx, 401
// and 403 (see AuthHandler for how other outcomes map).
package nginx

import (
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/ratelog"
	"github.com/anyhost/anyhost/internal/secret"
)

// Adapter is what handlers see in Request.Adapter behind nginx, in the
// FastCGI responder and the auth endpoint alike.
const Adapter = "nginx"

// The headers nginx's auth location sets on the subrequest (see Conf). They
// are trusted only because (1) the auth location is `internal;`, so a client
// cannot request it directly, (2) nginx's proxy_set_header replaces any
// client-sent header of the same name instead of adding to it (HOSTS.md), and
// (3) the auth socket is reachable only by nginx (socket mode and group).
// Anyone else who can connect to the auth socket can claim any method, URI
// and address: keep it private.
const (
	HeaderMethod = "X-Original-Method"
	HeaderURI    = "X-Original-Uri"
	HeaderHost   = "X-Original-Host"
	HeaderProto  = "X-Original-Proto"
	HeaderScheme = "X-Original-Scheme"
	HeaderIP     = "X-Real-Ip"
	HeaderPort   = "X-Real-Port"
	// HeaderLocation names the site location nginx matched (set from
	// $anyhost_location): the check refuses a request the site matches to
	// another, as the FastCGI side does with ANYHOST_LOCATION.
	HeaderLocation = "X-Anyhost-Location"
	// HeaderSecret carries the web server's secret (internal/secret).
	HeaderSecret = secret.Header
)

// The reply headers nginx can read with auth_request_set: the user the auth
// phases authenticated, for nginx's log or a proxied upstream.
const (
	HeaderUser     = "X-Anyhost-User"
	HeaderAuthType = "X-Anyhost-Auth-Type"
)

// nginxHeaders are removed from what auth handlers see as the client's
// headers: nginx put them there, the client did not send them (a client's own
// header of the same name was replaced by nginx).
var nginxHeaders = []string{HeaderMethod, HeaderURI, HeaderHost, HeaderProto, HeaderScheme, HeaderIP, HeaderPort,
	HeaderLocation, HeaderSecret}

// AuthHandler answers nginx's auth_request subrequest: it rebuilds the
// original request from the headers nginx set, matches its location, and runs
// the access, authn and authz phases of that location.
//
// Replies:
//   - every phase passes (OK or Declined): 204, with X-Anyhost-User and
//     X-Anyhost-Auth-Type when a user was authenticated;
//   - 401: 401 with every challenge joined into ONE WWW-Authenticate header
//     (nginx 1.22 forwards only the first of several);
//   - 403: 403, and 429 (a throttled login) too: auth_request passes no
//     429;
//   - anything else (500, any other 4xx/5xx, a 1xx-3xx, Done, a malformed
//     subrequest): 500, logged. nginx itself turns any status but 2xx, 401
//     and 403 into a 500; answering 500 ourselves says so explicitly, and
//     guarantees that no Done, redirect or handler-written 2xx ever reads as
//     a grant.
//
// Nothing an auth handler writes reaches nginx, and all replies have an empty
// body, so nginx keeps the connection.
type AuthHandler struct {
	// Site's location auth phases are run, until Sites holds another.
	Site *core.Site
	// Sites, if set, holds the site a reload swapped in.
	Sites *host.SiteSlot
	Log   zerolog.Logger
	// Secrets, when any are configured, must include the one nginx sends
	// in X-Anyhost-Secret; a subrequest without it is refused (403).
	Secrets *secret.Set

	refusals ratelog.Limiter
}

func (h *AuthHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !h.Secrets.Admits(oneHeader(req.Header, HeaderSecret)) {
		if ok, more := h.refusals.Allow(); ok {
			h.Log.Warn().Int("more_since_last_line", more).
				Msg("nginx: auth check without the web server's secret refused (another local process, or an nginx configured without `--secret-dir`)")
		}
		w.WriteHeader(http.StatusForbidden)
		return
	}
	r, err := h.request(req)
	if err != "" {
		h.Log.Error().Str("problem", err).Msg("nginx: malformed auth subrequest (check the generated auth location)")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	loc := h.Sites.Current(h.Site).Match(r.Path)
	// Where nginx proves itself, it also says which location it checked
	// (every generated location does); elsewhere the name is checked when
	// it comes.
	if named, ok := req.Header[HeaderLocation]; (ok || h.Secrets.Configured()) &&
		(len(named) != 1 || named[0] == "" || core.LocationPrefix(named[0]) != loc.Prefix) {
		msg := "nginx: the auth check names another location than the site matches: regenerate nginx's configuration from this site file"
		if !ok {
			msg = "nginx: the auth check names no site location: the nginx location calling auth_request must `set $anyhost_location` to it (see the comment above the generated auth location)"
		}
		h.Log.Error().Strs("nginx_location", named).Str("path", r.Path).Str("site_location", loc.Prefix).Msg(msg)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if len(loc.Handlers[core.Access]) == 0 && len(loc.Handlers[core.Authn]) == 0 && len(loc.Handlers[core.Authz]) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	host.Bind(r, &host.DiscardWriter{}, req.Context(), &h.Log)
	st := host.RunAuthPhases(loc, r)
	switch {
	case st == core.OK || st == core.Declined:
		if r.User != "" {
			w.Header()[HeaderUser] = []string{r.User}
			w.Header()[HeaderAuthType] = []string{r.AuthType}
		}
		w.WriteHeader(http.StatusNoContent)
	case st == http.StatusUnauthorized:
		if c := r.ErrHeader().Values("WWW-Authenticate"); len(c) > 0 {
			w.Header()["Www-Authenticate"] = []string{strings.Join(c, ", ")}
		}
		w.WriteHeader(http.StatusUnauthorized)
	case st == http.StatusForbidden:
		w.WriteHeader(http.StatusForbidden)
	case st == http.StatusTooManyRequests:
		// A throttled login (basic.Throttle in mode 429): auth_request cannot
		// pass 429 on, and a 500 would read as our failure. 403 refuses
		// without asking for credentials again; mode "403" or "delay" says
		// so in the site file.
		h.Log.Info().Str("uri", r.URI).Msg("nginx: throttled login answered 403 (auth_request passes no 429)")
		w.WriteHeader(http.StatusForbidden)
	default:
		h.Log.Error().Str("status", st.String()).Str("uri", r.URI).
			Msg("nginx: auth phase ended with a status auth_request cannot pass on; answering 500")
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// oneHeader is the header's value if it came exactly once, else "".
func oneHeader(h http.Header, name string) string {
	if v := h[name]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// request rebuilds the client's request from the subrequest; a non-empty
// string says what is wrong.
func (h *AuthHandler) request(req *http.Request) (*core.Request, string) {
	one := func(name string, required bool) (string, string) {
		v := req.Header[name]
		switch {
		case len(v) > 1:
			return "", name + " sent more than once"
		case len(v) == 0 || v[0] == "":
			if required {
				return "", name + " missing"
			}
			return "", ""
		}
		return v[0], ""
	}
	fields := make([]string, len(nginxHeaders))
	for i, name := range nginxHeaders {
		required := name == HeaderMethod || name == HeaderURI || name == HeaderIP
		v, bad := one(name, required)
		if bad != "" {
			return nil, bad
		}
		fields[i] = v
	}
	header := req.Header.Clone()
	for _, name := range nginxHeaders {
		delete(header, name)
	}
	r := &core.Request{Header: header, Body: http.NoBody, Adapter: Adapter, Kind: core.Initial}
	l := host.RequestLine{Method: fields[0], Target: fields[1], Host: fields[2], Proto: fields[3], Scheme: fields[4],
		RemoteAddr: fields[5], RemotePort: fields[6]}
	if l.Host == "" {
		l.Host = req.Host
	}
	if err := l.Fill(r); err != nil {
		return nil, HeaderURI + ": " + err.Error()
	}
	return r, ""
}
