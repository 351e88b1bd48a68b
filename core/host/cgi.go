package host

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/core"
)

// Errors from RequestFromCGI. ErrRequestURI is the client's (400); the
// others mean the web server's configuration sent no request (500).
var (
	ErrNoMethod      = errors.New("cgi: REQUEST_METHOD missing")
	ErrNoRequestURI  = errors.New("cgi: REQUEST_URI missing (a web server drops it when it is too long to carry: mod_proxy_fcgi AH02536, mod_authnz_fcgi AH02499)")
	ErrRequestURI    = errors.New("cgi: REQUEST_URI is not a request target")
	ErrContentLength = errors.New("cgi: CONTENT_LENGTH is not a number")
)

// RequestLine is what a web server says about a request apart from its
// headers, by the names CGI gives it (RFC 3875 section 4.1): from CGI
// variables (RequestFromCGI) or from the headers of nginx's auth
// subrequest.
type RequestLine struct {
	Method string
	// Target is the request target as sent (REQUEST_URI).
	Target string
	Proto  string // "": HTTP/1.0
	Scheme string // "": http
	// Host is the Host header; without it, ServerName and ServerPort.
	Host                   string
	ServerName, ServerPort string
	RemoteAddr, RemotePort string
}

// Fill sets r's request-line fields (Method, URI, Path, RawQuery, Proto,
// Scheme, Host, RemoteAddr) from l, the target through ParseTarget.
func (l RequestLine) Fill(r *core.Request) error {
	if l.Method == "" {
		return ErrNoMethod
	}
	if l.Target == "" {
		return ErrNoRequestURI
	}
	t, err := ParseTarget(l.Target)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRequestURI, err)
	}
	r.Method, r.URI, r.Path, r.RawQuery = l.Method, l.Target, t.Path, t.RawQuery
	r.Proto = l.Proto
	if r.Proto == "" {
		r.Proto = "HTTP/1.0"
	}
	r.Scheme = "http"
	if l.Scheme != "" {
		r.Scheme = strings.ToLower(l.Scheme)
	}
	r.Host = t.Host // absolute-form names the host (RFC 9112 3.2.2)
	if r.Host == "" {
		r.Host = l.Host
	}
	if r.Host == "" {
		r.Host = l.ServerName
		if port := l.ServerPort; port != "" && r.Host != "" &&
			!(port == "80" && r.Scheme == "http" || port == "443" && r.Scheme == "https") {
			r.Host = net.JoinHostPort(r.Host, port)
		}
	}
	r.RemoteAddr = l.RemoteAddr
	if l.RemotePort != "" && r.RemoteAddr != "" {
		r.RemoteAddr = net.JoinHostPort(r.RemoteAddr, l.RemotePort)
	}
	return nil
}

// CGIOptions say what RequestFromCGI believes beyond the request itself.
// The zero value believes nothing the client could have chosen.
type CGIOptions struct {
	// TrustRemoteUser takes REMOTE_USER and AUTH_TYPE as the request's
	// authenticated user: only for a CGI program, whose web server
	// authenticated the request before running it (the require rules still
	// run on that user). Never over FastCGI: Debian's fastcgi_params sends
	// nginx's $remote_user, the name a client typed into Basic auth,
	// unverified.
	TrustRemoteUser bool
}

// RequestFromCGI fills r's request fields from CGI/1.1 variables (RFC 3875
// names, as CGI programs get them and FastCGI params carry them) and
// installs env as r's environment. It is the one translation from CGI
// variables to a core.Request.
//
// The path and query come from REQUEST_URI alone, through ParseTarget, the
// parse every host uses. A request without REQUEST_URI is refused, never
// rebuilt from SCRIPT_NAME and PATH_INFO: a web server drops REQUEST_URI
// when it is too long to carry, and the rebuilt path would not be the one
// its auth check saw.
//
// Without o.TrustRemoteUser no user is set and REMOTE_USER and AUTH_TYPE
// are removed from env.
func RequestFromCGI(r *core.Request, env map[string]string, o CGIOptions) error {
	l := RequestLine{
		Method: env["REQUEST_METHOD"], Proto: env["SERVER_PROTOCOL"], Scheme: env["REQUEST_SCHEME"],
		Host: env["HTTP_HOST"], ServerName: env["SERVER_NAME"], ServerPort: env["SERVER_PORT"],
		RemoteAddr: env["REMOTE_ADDR"], RemotePort: env["REMOTE_PORT"],
	}
	l.Target = env["REQUEST_URI"]
	if h := env["HTTPS"]; l.Scheme == "" && h != "" && !strings.EqualFold(h, "off") {
		l.Scheme = "https"
	}
	if err := l.Fill(r); err != nil {
		return err
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
			if n == 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				// lighttpd sends CONTENT_LENGTH=0 for every GET: no
				// header a client would have sent.
				continue
			}
			r.Header["Content-Length"] = []string{v}
		case k == "HTTP_HOST":
			// r.Host, not a header, as net/http does.
		case strings.HasPrefix(k, "HTTP_") && len(k) > 5:
			r.Header[textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(k[5:], "_", "-"))] = []string{v}
		}
	}
	r.User, r.AuthType, r.Identity = "", "", nil
	if o.TrustRemoteUser && env["REMOTE_USER"] != "" {
		r.User, r.AuthType = env["REMOTE_USER"], env["AUTH_TYPE"]
		r.Identity = &core.Identity{User: r.User, AuthType: r.AuthType, ByWebServer: true}
	} else {
		delete(env, "REMOTE_USER")
		delete(env, "AUTH_TYPE")
	}
	r.Kind = core.Initial
	SetEnv(r, env)
	return nil
}
