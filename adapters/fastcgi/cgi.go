package fastcgi

import (
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/core"
)

// The identity params. The web server sets them after its own
// authentication (nginx: from the auth_request reply); they are the only
// source of r.User here.
const (
	paramUser     = "ANYHOST_USER"
	paramAuthType = "ANYHOST_AUTH_TYPE"
)

// ParamAuthDone is the param a web server sends, with the value "1", in the
// locations where its configuration already runs the location's access,
// authn and authz phases through us (nginx's auth_request to our auth
// endpoint, Apache's mod_authnz_fcgi to our Authorizer role): the Responder
// then sets core.Request.AuthChecked and does not check the password a
// second time. Only the web server's configuration can send it (a client's
// header Anyhost-Auth-Done arrives as HTTP_ANYHOST_AUTH_DONE), and it must
// come once. Without it the Responder runs the auth phases itself.
const ParamAuthDone = "ANYHOST_AUTH_DONE"

// Errors from FillFromCGI; the request is answered with 500 (the variables
// come from the web server's configuration, not the client) or 400 for a
// URI that does not decode.
var (
	ErrNoMethod      = errors.New("fastcgi: REQUEST_METHOD missing")
	ErrBadURI        = errors.New("fastcgi: REQUEST_URI does not decode")
	ErrContentLength = errors.New("fastcgi: CONTENT_LENGTH is not a number")
)

// FillFromCGI fills r's request fields from CGI/1.1 variables (RFC 3875
// names, as FastCGI params carry them) and installs env as r's environment.
// It is the one translation from CGI variables to a core Request.
//
// The user comes only from ANYHOST_USER / ANYHOST_AUTH_TYPE. REMOTE_USER
// and AUTH_TYPE are removed from env: Debian's fastcgi_params passes the
// name the client typed into Basic auth as REMOTE_USER, never verified, so
// neither r.User nor r.Env() may show it.
func FillFromCGI(r *core.Request, env map[string]string) error {
	r.Method = env["REQUEST_METHOD"]
	if r.Method == "" {
		return ErrNoMethod
	}
	query, hasQuery := env["QUERY_STRING"]
	r.URI = env["REQUEST_URI"]
	if r.URI == "" {
		r.URI = env["SCRIPT_NAME"] + env["PATH_INFO"]
		if query != "" {
			r.URI += "?" + query
		}
	}
	rawPath, uriQuery, _ := strings.Cut(r.URI, "?")
	if !hasQuery {
		query = uriQuery
	}
	p, err := url.PathUnescape(rawPath)
	if err != nil {
		return ErrBadURI
	}
	r.Path = core.CleanPath(p)
	r.RawQuery = query
	r.Proto = env["SERVER_PROTOCOL"]
	if r.Proto == "" {
		r.Proto = "HTTP/1.0"
	}
	r.Scheme = "http"
	if s := env["REQUEST_SCHEME"]; s != "" {
		r.Scheme = strings.ToLower(s)
	} else if h := env["HTTPS"]; h != "" && !strings.EqualFold(h, "off") {
		r.Scheme = "https"
	}
	r.Host = env["HTTP_HOST"]
	if r.Host == "" {
		r.Host = env["SERVER_NAME"]
		if port := env["SERVER_PORT"]; port != "" && r.Host != "" &&
			!(port == "80" && r.Scheme == "http" || port == "443" && r.Scheme == "https") {
			r.Host = net.JoinHostPort(r.Host, port)
		}
	}
	r.RemoteAddr = env["REMOTE_ADDR"]
	if port := env["REMOTE_PORT"]; port != "" && r.RemoteAddr != "" {
		r.RemoteAddr = net.JoinHostPort(r.RemoteAddr, port)
	}
	if r.Header == nil {
		r.Header = make(http.Header, 16)
	}
	r.ContentLength = -1
	for k, v := range env {
		switch {
		case k == "CONTENT_TYPE":
			if v != "" {
				r.Header["Content-Type"] = []string{v}
			}
		case k == "CONTENT_LENGTH":
			if v == "" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return ErrContentLength
			}
			r.ContentLength = n
			r.Header["Content-Length"] = []string{v}
		case k == "HTTP_HOST":
			// r.Host, not a header, as net/http does.
		case strings.HasPrefix(k, "HTTP_") && len(k) > 5:
			r.Header[textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(k[5:], "_", "-"))] = []string{v}
		}
	}
	delete(env, "REMOTE_USER")
	delete(env, "AUTH_TYPE")
	r.User, r.AuthType, r.Identity = env[paramUser], "", nil
	if r.User != "" {
		r.AuthType = env[paramAuthType]
		r.Identity = &core.Identity{User: r.User, AuthType: r.AuthType}
	}
	r.Kind = core.Initial
	r.SetEnv(env)
	return nil
}
