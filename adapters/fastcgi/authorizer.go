package fastcgi

// The Authorizer role (spec section 6.3), as Apache's mod_authnz_fcgi uses
// it: only the access, authn and authz phases of the location matching the
// request run, and the answer is a grant (exactly 200, with the user in
// Variable-REMOTE_USER) or a denial. Nothing a handler writes reaches the
// web server: a handler's own 2xx must never read as a grant.

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
)

func (s *Server) authorize(req *request, env map[string]string) {
	// mod_authnz_fcgi's Basic-provider mode (AuthBasicProvider NAME) sends
	// no Authorization header; the credentials arrive as REMOTE_USER and
	// REMOTE_PASSWD. Rebuilding the header from them lets the site's own
	// authn check them. Trusting REMOTE_USER here is safe where it is not
	// in the Responder role: the Authorizer role is only reached by
	// mod_authnz_fcgi over a socket the web server owns, the name comes
	// with a password, and the authn phase verifies both. RequestFromCGI
	// drops REMOTE_USER; the password leaves env here so no handler's
	// Env() shows it.
	pass, basicMode := env["REMOTE_PASSWD"]
	user := env["REMOTE_USER"]
	delete(env, "REMOTE_PASSWD")
	r := requests.Get().(*core.Request)
	defer func() {
		host.Reset(r)
		requests.Put(r)
	}()
	// No proof asked: this role believes no identity param (it checks
	// credentials), and mod_authnz_fcgi could carry a secret only in the
	// request's environment, where Apache's own handlers would see it.
	sp, ok := s.fill(req, r, env, false)
	if !ok {
		return
	}
	// The location comes with the request (the generated <Location> sets
	// it), so a request the web server matched to one location is never
	// checked against another's rules.
	loc, err := checkLocation(s.current(), r, sp)
	if err != nil {
		s.Log.Error().Err(err).Str("uri", r.URI).Msg("fastcgi: authorizer request refused")
		writeStatus(req.out, http.StatusInternalServerError, nil)
		return
	}
	if basicMode {
		r.Header["Authorization"] = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	r.Adapter, r.Body = s.Adapter, http.NoBody
	host.Bind(r, &host.DiscardWriter{}, req.ctx, &s.Log)

	st := host.RunAuthPhases(loc, r)
	switch {
	case st == core.OK || st == core.Declined:
		if basicMode && r.User == "" {
			// Credentials nobody checked (no authn here) grant nothing.
			s.Log.Warn().Str("uri", r.URI).Msg("fastcgi: authorizer got credentials but the location has no authn")
			writeStatus(req.out, http.StatusUnauthorized, nil)
			return
		}
		h := http.Header{}
		if r.User != "" {
			// Set directly: Header.Set would write Variable-Remote_user.
			h["Variable-REMOTE_USER"] = []string{r.User}
			h["Variable-AUTH_TYPE"] = []string{r.AuthType}
			// Apache's own AUTH_TYPE is its AuthType directive's; this one
			// is the scheme the user really logged in with.
			h["Variable-ANYHOST_AUTH_TYPE"] = []string{r.AuthType}
		}
		// The grant itself says the auth phases ran: the generated config
		// forwards it to the responder (ParamAuthDone), so where this role
		// was not asked, the responder runs them.
		h["Variable-"+ParamAuthDone] = []string{"1"}
		writeHead(req.out, http.StatusOK, h)
	case st == http.StatusUnauthorized:
		h := http.Header{}
		if c := r.ErrHeader().Values("WWW-Authenticate"); len(c) > 0 {
			// One header: nginx 1.22 forwards only the first.
			h["WWW-Authenticate"] = []string{strings.Join(c, ", ")}
		}
		writeStatus(req.out, http.StatusUnauthorized, h)
	case st.IsHTTP() && st >= 400:
		// The error headers go along (Retry-After of a throttled login);
		// mod_authnz_fcgi passes them to the client with the status.
		var h http.Header
		if eh := r.ErrHeader(); len(eh) > 0 {
			h = eh.Clone()
		}
		writeStatus(req.out, int(st), h)
	default:
		// Done or a 1xx-3xx from an auth phase: the response the handler
		// meant cannot be forwarded, and it must not read as a grant.
		s.Log.Error().Str("status", st.String()).Str("uri", r.URI).Msg("fastcgi: auth phase ended with a status an authorizer cannot send")
		writeStatus(req.out, http.StatusInternalServerError, nil)
	}
}
