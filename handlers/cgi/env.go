package cgi

import (
	"net"
	"strconv"
	"strings"

	"github.com/anyhost/anyhost/core"
)

// searchPath is the PATH scripts get: the host's own is not passed.
const searchPath = "/usr/local/bin:/usr/bin:/bin"

// env is the script's environment: the RFC 3875 meta-variables and PATH,
// nothing of the host process's own environment (DSNs, Redis URLs).
// HTTP_PROXY is never passed (httpoxy), HTTP_AUTHORIZATION only with
// pass_auth.
func (h *Handler) env(r *core.Request, t target) []string {
	e := make([]string, 0, 24+len(r.Header))
	add := func(k, v string) { e = append(e, k+"="+v) }
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("SERVER_SOFTWARE", "anyhost")
	add("SERVER_PROTOCOL", r.Proto)
	add("REQUEST_METHOD", r.Method)
	add("REQUEST_URI", r.URI)
	add("QUERY_STRING", r.RawQuery)
	add("SCRIPT_NAME", t.scriptName)
	add("SCRIPT_FILENAME", t.file)
	add("DOCUMENT_ROOT", t.docRoot)
	if t.pathInfo != "" {
		add("PATH_INFO", t.pathInfo)
		add("PATH_TRANSLATED", t.docRoot+t.pathInfo)
	}
	add("REQUEST_SCHEME", r.Scheme)
	if r.Scheme == "https" {
		add("HTTPS", "on")
	}
	name, port := r.Host, ""
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		name, port = h, p
	} else if r.Scheme == "https" {
		port = "443"
	} else {
		port = "80"
	}
	add("SERVER_NAME", name)
	add("SERVER_PORT", port)
	if ip, p, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		add("REMOTE_ADDR", ip)
		add("REMOTE_PORT", p)
	} else {
		add("REMOTE_ADDR", r.RemoteAddr)
	}
	if r.User != "" {
		add("REMOTE_USER", r.User)
		add("AUTH_TYPE", r.AuthType)
	}
	if r.ContentLength >= 0 && (r.ContentLength > 0 || r.Header.Get("Content-Length") != "") {
		add("CONTENT_LENGTH", strconv.FormatInt(r.ContentLength, 10))
	}
	if r.Host != "" {
		add("HTTP_HOST", r.Host) // net/http keeps Host apart from the headers
	}
	for k, vs := range r.Header {
		if strings.Contains(k, "_") {
			// X_Forwarded_User would pass for X-Forwarded-User, which a
			// proxy in front strips (Apache and nginx drop such headers
			// for the same reason).
			continue
		}
		switch k {
		case "Host":
			continue
		case "Content-Type":
			add("CONTENT_TYPE", strings.Join(vs, ", "))
			continue
		case "Content-Length", "Proxy", "Proxy-Authorization":
			continue
		case "Authorization":
			if !h.passAuth {
				continue
			}
		}
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		if !validName(name) {
			continue // a header name that no shell could take as a variable
		}
		add(name, strings.Join(vs, ", "))
	}
	add("PATH", searchPath)
	return e
}

// validName reports whether s is a portable environment variable name.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
