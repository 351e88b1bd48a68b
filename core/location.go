package core

import (
	"strings"

	"github.com/anyhost/anyhost/core/internal/link"
	"github.com/anyhost/anyhost/core/internal/target"
)

// Location is the handlers configured for a path prefix. A prefix matches
// whole path segments: "/private" matches "/private" and "/private/x", never
// "/private123".
type Location struct {
	// Prefix is the path prefix, starting with "/"; "/" matches every path.
	Prefix string
	// Handlers holds the handlers per phase. Site-only phases
	// (Phase.SiteOnly) are ignored here.
	Handlers [NumPhases][]Handler

	panics *link.PanicLog // its site's
	site   *Site          // set by NewSite
}

// Matches reports whether the location applies to path p (already cleaned).
func (l *Location) Matches(p string) bool {
	if l.Prefix == "/" {
		return true
	}
	pre := strings.TrimSuffix(l.Prefix, "/")
	if !strings.HasPrefix(p, pre) {
		return false
	}
	return len(p) == len(pre) || p[len(pre)] == '/'
}

// LocationPrefix is the form a location's prefix takes in a Site (and so in
// Location.Prefix): cleaned, without a trailing slash unless it is "/".
// Configuration generators name locations by it.
func LocationPrefix(p string) string {
	key := CleanPath(p)
	if key != "/" && key[len(key)-1] == '/' {
		key = key[:len(key)-1]
	}
	return key
}

// CleanPath removes dot segments and repeated slashes from a decoded path,
// keeps a trailing slash, and roots it at "/". It allocates only when the
// path changes.
func CleanPath(p string) string { return target.CleanPath(p) }
