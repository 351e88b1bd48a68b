package fastcgi

import (
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/secret"
)

// The params the web server's configuration adds for us (never a client:
// a client's header Anyhost-User arrives as HTTP_ANYHOST_USER). Each may
// come once; none reaches a handler's Env().
const (
	// ANYHOST_USER and ANYHOST_AUTH_TYPE carry the user the web server's
	// auth check (through us) established: nginx's auth_request reply,
	// Apache's mod_authnz_fcgi. They are the only source of r.User here,
	// believed only with the secret.
	paramUser     = "ANYHOST_USER"
	paramAuthType = "ANYHOST_AUTH_TYPE"
	// ParamLocation names the site location the web server matched the
	// request to (Apache's <Location>, nginx's location): the authorizer
	// and the responder refuse a request whose path the site matches to
	// another location, so auth is never decided on one location and
	// content served from another (a configuration generated from an older
	// site file, a host that normalises the path differently).
	ParamLocation = "ANYHOST_LOCATION"
)

// ParamAuthDone is the param a web server sends, with the value "1", in the
// locations where its configuration already runs the location's access,
// authn and authz phases through us (nginx's auth_request to our auth
// endpoint, Apache's mod_authnz_fcgi to our Authorizer role): the Responder
// then sets core.Request.AuthChecked and does not check the password a
// second time. It is believed only with the web server's secret
// (secret.Param) and with ANYHOST_LOCATION; without them the Responder runs
// the auth phases itself.
const ParamAuthDone = "ANYHOST_AUTH_DONE"

// serverParams is what the web server's configuration said about a request
// beside the CGI variables.
type serverParams struct {
	user, authType string
	authDone       bool
	secret         string
	location       string
	hasLocation    bool
}

// takeServerParams removes our params from env, so that no handler sees
// them (the secret above all), and returns them.
func takeServerParams(env map[string]string) serverParams {
	var sp serverParams
	sp.user, sp.authType = env[paramUser], env[paramAuthType]
	sp.authDone = env[ParamAuthDone] == "1"
	sp.secret = env[secret.Param]
	sp.location, sp.hasLocation = env[ParamLocation]
	for _, k := range [...]string{paramUser, paramAuthType, ParamAuthDone, secret.Param, ParamLocation} {
		delete(env, k)
	}
	return sp
}

// Errors from FillFromCGI; the request is answered with 500 (the variables
// come from the web server's configuration, not the client) or 400 for a
// target that does not parse.
var (
	ErrNoMethod      = errors.New("fastcgi: REQUEST_METHOD missing")
	ErrNoRequestURI  = errors.New("fastcgi: REQUEST_URI missing (a web server drops it when it is too long to carry: mod_proxy_fcgi AH02536, mod_authnz_fcgi AH02499)")
	ErrBadURI        = errors.New("fastcgi: REQUEST_URI is not a request target")
	ErrContentLength = errors.New("fastcgi: CONTENT_LENGTH is not a number")
)

// FillFromCGI fills r's request fields from CGI/1.1 variables (RFC 3875
// names, as FastCGI params carry them) and installs env as r's environment.
// It is the one translation from CGI variables to a core Request.
//
// The path and query come from REQUEST_URI alone, through core.ParseTarget,
// the parse every host uses. A request without REQUEST_URI is refused,
// never rebuilt from SCRIPT_NAME and PATH_INFO: a web server drops
// REQUEST_URI when it is too long to carry, and the rebuilt path would not
// be the one its auth check saw.
//
// No user is set: REMOTE_USER and AUTH_TYPE are removed from env (Debian's
// fastcgi_params passes the name the client typed into Basic auth as
// REMOTE_USER, never verified), and the identity params are the caller's to
// believe or not.
func FillFromCGI(r *core.Request, env map[string]string) error {
	r.Method = env["REQUEST_METHOD"]
	if r.Method == "" {
		return ErrNoMethod
	}
	uri, ok := env["REQUEST_URI"]
	if !ok || uri == "" {
		return ErrNoRequestURI
	}
	t, err := core.ParseTarget(uri)
	if err != nil {
		return ErrBadURI
	}
	r.URI, r.Path, r.RawQuery = uri, t.Path, t.RawQuery
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
	r.Host = t.Host // absolute-form names the host (RFC 9112 3.2.2)
	if r.Host == "" {
		r.Host = env["HTTP_HOST"]
	}
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
	r.User, r.AuthType, r.Identity = "", "", nil
	r.Kind = core.Initial
	r.SetEnv(env)
	return nil
}

// errLocation is a request whose ANYHOST_LOCATION disagrees with the site.
type errLocation struct{ msg string }

func (e errLocation) Error() string { return "fastcgi: " + e.msg }

// checkLocation returns the location for r's path, refusing it when the web
// server named another (or none): the web server's configuration was
// generated from another site file, or it matched another path than the
// one REQUEST_URI says. A location is named by its prefix
// (core.LocationPrefix), and only the one the site matches will do: one
// that merely encloses the path could have weaker rules than the site's
// own for it.
func checkLocation(site *core.Site, r *core.Request, sp serverParams) (*core.Location, error) {
	loc := site.Match(r.Path)
	if !sp.hasLocation || sp.location == "" {
		return nil, errLocation{ParamLocation + " missing: the web server's configuration does not say which location it checked (regenerate it with `anyhost apache conf` or `anyhost nginx conf`)"}
	}
	if named := core.LocationPrefix(sp.location); named != loc.Prefix {
		return nil, errLocation{"the web server matched location " + strconv.Quote(sp.location) + " for path " +
			strconv.Quote(r.Path) + ", the site location " + strconv.Quote(loc.Prefix) + ": regenerate the web server's configuration from this site file"}
	}
	return loc, nil
}
