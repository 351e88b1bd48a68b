package core

import (
	"net"
	"strconv"
	"strings"
)

// Env returns the request's CGI-style environment (RFC 3875 names). Hosts
// that receive one (CGI, FastCGI, Apache) install theirs with SetEnv; on
// others it is derived from the request once, on first use. Handlers may add
// variables; on Apache they reach subprocess_env.
func (r *Request) Env() map[string]string {
	if r.env == nil && r.envLoader != nil {
		r.env = r.envLoader()
		hideFromEnv(r.env)
	}
	if r.env != nil {
		if r.User != "" {
			// Authn may have run since the environment was made.
			r.env["REMOTE_USER"], r.env["AUTH_TYPE"] = r.User, r.AuthType
		}
		return r.env
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
	r.env = e
	return e
}

// SetEnv installs the environment a host received with the request.
func (r *Request) SetEnv(env map[string]string) {
	hideFromEnv(env)
	r.env = env
}

// hideFromEnv removes what Env() never shows, whichever host made the
// environment: credentials, as Apache keeps them from CGI without
// CGIPassAuth (the Authorization header is still the request's), and
// HTTP_PROXY, which a library reading the environment would take for its
// proxy setting (httpoxy, CVE-2016-5385).
func hideFromEnv(env map[string]string) {
	delete(env, "HTTP_AUTHORIZATION")
	delete(env, "HTTP_PROXY_AUTHORIZATION")
	delete(env, "HTTP_PROXY")
}

// SetEnvLoader installs a function that fetches the environment on first
// use, for hosts where fetching it costs a call into the server (Apache).
func (r *Request) SetEnvLoader(load func() map[string]string) { r.envLoader = load }

// EnvLoaded returns the environment if a handler has asked for it, else nil:
// hosts send back only what handlers may have changed.
func (r *Request) EnvLoaded() map[string]string { return r.env }
