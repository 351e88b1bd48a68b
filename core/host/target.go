package host

import "github.com/anyhost/anyhost/core/internal/target"

// Target is a request target reduced to what a site dispatches on; see
// ParseTarget.
type Target = target.Target

// Errors from ParseTarget; hosts answer them with 400.
var (
	// ErrTargetForm is a target that is neither origin-form ("/p?q") nor
	// absolute-form ("http://host/p?q"): authority-form (CONNECT) and "*"
	// (OPTIONS) name no resource of a site.
	ErrTargetForm = target.ErrForm
	// ErrTargetEncoding is a target with a malformed %-escape, a fragment,
	// or a control character (raw or %-encoded, %00 included).
	ErrTargetEncoding = target.ErrEncoding
)

// ParseTarget parses a request target as sent on the request line (CGI's
// REQUEST_URI): the one parse every host uses (RFC 9112 section 3.2), so the
// path auth is decided on is the path content sees, also through the
// *http.Request view. Absolute-form is reduced to its path and query, as
// net/http does, and its authority is returned as Host.
func ParseTarget(s string) (Target, error) { return target.Parse(s) }
