package core

import (
	"net"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/core/internal/link"
)

// Env returns the request's CGI-style environment (RFC 3875 names). Hosts
// that receive one (CGI, FastCGI, Apache) install theirs (host.SetEnv); on
// others it is derived from the request once, on first use. On every host
// it never holds HTTP_AUTHORIZATION or HTTP_PROXY (httpoxy). Handlers may add
// variables; on Apache they reach subprocess_env.
func (r *Request) Env() map[string]string {
	if r.st.Env == nil && r.st.EnvLoader != nil {
		r.st.Env = r.st.EnvLoader()
		link.HideFromEnv(r.st.Env)
	}
	if r.st.Env != nil {
		if r.User != "" {
			// Authn may have run since the environment was made.
			r.st.Env["REMOTE_USER"], r.st.Env["AUTH_TYPE"] = r.User, r.AuthType
		}
		return r.st.Env
	}
	e := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_PROTOCOL":   r.Proto,
		"REQUEST_METHOD":    r.Method,
		"REQUEST_URI":       r.URI,
		"QUERY_STRING":      r.RawQuery,
		"SCRIPT_NAME":       "",
		"PATH_INFO":         r.Path,
		"REQUEST_SCHEME":    r.Scheme,
	}
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e["REMOTE_ADDR"], e["REMOTE_PORT"] = host, port
	} else {
		e["REMOTE_ADDR"] = r.RemoteAddr
	}
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		e["SERVER_NAME"], e["SERVER_PORT"] = host, port
	} else {
		e["SERVER_NAME"] = r.Host
	}
	if r.Scheme == "https" {
		e["HTTPS"] = "on"
	}
	if r.User != "" {
		e["REMOTE_USER"], e["AUTH_TYPE"] = r.User, r.AuthType
	}
	if r.ContentLength > 0 {
		e["CONTENT_LENGTH"] = strconv.FormatInt(r.ContentLength, 10)
	}
	for k, v := range r.Header {
		switch k {
		case "Content-Type":
			e["CONTENT_TYPE"] = strings.Join(v, ", ")
		case "Content-Length", "Authorization", "Proxy-Authorization", "Proxy":
			// Credentials stay out as Apache keeps them out of CGI;
			// Proxy is httpoxy (CVE-2016-5385).
		default:
			e["HTTP_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))] = strings.Join(v, ", ")
		}
	}
	r.st.Env = e
	return e
}
