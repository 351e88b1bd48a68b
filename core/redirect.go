package core

import (
	"errors"
	"net/http"

	"github.com/anyhost/anyhost/core/internal/target"
)

// ErrRedirectTarget is a local redirect to something other than a path.
var ErrRedirectTarget = errors.New("anyhost: a local redirect needs a path (origin-form target)")

// LocalRedirect asks the host to answer r with target instead (a path with
// an optional query), as a new request through every phase from translate
// on, its location's access, authn and authz included: mod_python's
// req.internal_redirect, CGI's local redirect (RFC 3875 6.2.2). The new
// request is a GET without a body and with Kind InternalRedirect. The
// handler returns (Done or OK) after asking; nothing it wrote before may
// have started the response. A request is redirected at most 10 times.
func (r *Request) LocalRedirect(to string) error {
	if to == "" || to[0] != '/' {
		return ErrRedirectTarget
	}
	if _, err := target.Parse(to); err != nil {
		return err
	}
	r.st.Redirect = to
	return nil
}

// followRedirect makes r the request its local redirect names: what
// identified or answered the old one is dropped, so nothing of it (user,
// response headers, the environment the host passed) carries over.
func (r *Request) followRedirect() error {
	to := r.st.Redirect
	r.st.Redirect = ""
	t, err := target.Parse(to)
	if err != nil {
		return err
	}
	r.URI, r.Path, r.RawQuery = to, t.Path, t.RawQuery
	r.Method, r.Body, r.ContentLength = http.MethodGet, http.NoBody, 0
	r.Header.Del("Content-Length")
	r.Header.Del("Content-Type")
	r.Kind = InternalRedirect
	if id := r.Identity; id == nil || !id.ByWebServer {
		// The user the web server authenticated stays (it passes no
		// credentials the new location could check again).
		r.User, r.AuthType, r.Identity = "", "", nil
	}
	r.AuthChecked = false
	r.Status = 0
	clear(r.ResponseHeader)
	clear(r.st.ErrHeader)
	r.st.Env, r.st.EnvLoader, r.st.HTTP = nil, nil, nil
	return nil
}
