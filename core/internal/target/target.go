// Package target is the one parse of a request target every host uses;
// core (the net/http bridge) and core/host (the CGI translation, which
// exports it as host.ParseTarget) share it.
package target

import (
	"errors"
	"net/url"
	"path"
	"strings"
)

// Target is a request target reduced to what a site dispatches on. It is
// the one parse of a target every host uses (RFC 9112 section 3.2), so the
// path auth is decided on is the path content sees, also through the
// *http.Request view.
type Target struct {
	// Path is the %-decoded path with dot segments and repeated slashes
	// removed (CleanPath): what locations match.
	Path string
	// RawPath is the path's escaped form, cleaned the same way, when it
	// differs from the default encoding of Path (url.URL.RawPath); "" when
	// the default encoding says the same or no escaped form decodes to Path.
	RawPath string
	// RawQuery is the query without '?', still %-encoded.
	RawQuery string
	// Host is the authority of an absolute-form target, which replaces the
	// Host header (RFC 9112 3.2.2); "" for origin-form.
	Host string
}

// Errors from Parse; hosts answer them with 400.
var (
	// ErrForm is a target that is neither origin-form ("/p?q") nor
	// absolute-form ("http://host/p?q"): authority-form (CONNECT) and "*"
	// (OPTIONS) name no resource of a site.
	ErrForm = errors.New("anyhost: request target is not origin-form or absolute-form")
	// ErrEncoding is a target with a malformed %-escape, a fragment,
	// or a control character (raw or %-encoded, %00 included).
	ErrEncoding = errors.New("anyhost: request target does not decode to a path")
)

// Parse parses a request target as sent on the request line (CGI's
// REQUEST_URI). Absolute-form is reduced to its path and query, as net/http
// does, and its authority is returned as Host.
func Parse(target string) (Target, error) {
	var t Target
	if target == "" {
		return t, ErrForm
	}
	for i := 0; i < len(target); i++ {
		// A fragment is never sent (RFC 9112 3.2.1); hosts disagree on
		// where one would end the path (or the host), so none is accepted.
		if c := target[i]; c < 0x20 || c == 0x7f || c == '#' {
			return t, ErrEncoding
		}
	}
	if target[0] != '/' {
		rest, host, ok := cutAbsolute(target)
		if !ok {
			return t, ErrForm
		}
		t.Host = host
		target = rest
		if target == "" || target[0] == '?' {
			target = "/" + target
		}
	}
	raw, query, _ := strings.Cut(target, "?")
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return t, ErrEncoding
	}
	if len(decoded) != len(raw) {
		for i := 0; i < len(decoded); i++ {
			if c := decoded[i]; c < 0x20 || c == 0x7f {
				return t, ErrEncoding
			}
		}
	}
	t.Path = CleanPath(decoded)
	t.RawQuery = query
	if strings.IndexByte(raw, '%') >= 0 {
		t.RawPath = cleanRawPath(raw, t.Path)
	}
	return t, nil
}

// cutAbsolute splits an absolute-form target into what follows its
// authority and the authority itself.
func cutAbsolute(target string) (rest, host string, ok bool) {
	scheme, after, found := strings.Cut(target, "://")
	if !found || scheme == "" || !isScheme(scheme) {
		return "", "", false
	}
	end := strings.IndexAny(after, "/?")
	if end < 0 {
		end = len(after)
	}
	host, rest = after[:end], after[end:]
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:] // userinfo is not part of the host
	}
	if host == "" || !isHost(host) {
		return "", "", false
	}
	return rest, host, true
}

// isHost reports whether s has only the characters of an authority's host
// and port (RFC 3986 3.2.2: reg-name, IP literal, port).
func isHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// cleanRawPath removes dot segments (also %-encoded ones) and empty
// segments from an escaped path, as CleanPath does to the decoded one. The
// result is kept only if it decodes to path: an encoded slash inside a
// segment makes the two disagree, and then the default encoding of path is
// the truth.
func cleanRawPath(raw, path string) string {
	var out []string
	segs := strings.Split(raw, "/")
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return ""
		}
		switch {
		case dec == "." || dec == "" && i < len(segs)-1:
		case dec == "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	clean := "/" + strings.Join(out, "/")
	if dec, err := url.PathUnescape(clean); err != nil || dec != path {
		return ""
	}
	if (&url.URL{Path: path}).EscapedPath() == clean {
		return ""
	}
	return clean
}

// URL is the target as net/http presents an origin-form request's URL.
func (t Target) URL() *url.URL {
	return &url.URL{Path: t.Path, RawPath: t.RawPath, RawQuery: t.RawQuery}
}

// CleanPath removes dot segments and repeated slashes from a decoded path,
// keeps a trailing slash, and roots it at "/". It allocates only when the
// path changes.
func CleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if isClean(p) {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func isClean(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		rest := p[i+1:]
		if rest == "" {
			return true
		}
		if rest[0] == '/' || rest == "." || rest == ".." ||
			strings.HasPrefix(rest, "./") || strings.HasPrefix(rest, "../") {
			return false
		}
	}
	return true
}
