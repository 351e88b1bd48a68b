package host

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/internal/link"
)

// HTTPHandler serves a site to net/http on behalf of a host: a
// core.Site's own ServeHTTP with the host's name, logger and access log.
type HTTPHandler struct {
	// Site is what it serves until Sites holds another.
	Site *core.Site
	// Sites, if set, holds the site a reload swapped in.
	Sites *SiteSlot
	// Adapter is reported to handlers as Request.Adapter.
	Adapter string
	// Log is the requests' logger; nil logs nowhere.
	Log *zerolog.Logger
	// Done, if set, is called after the log phase while the request is
	// still valid: hosts write their access log from it.
	Done func(r *core.Request, began time.Time)
}

// ServeHTTP implements http.Handler.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	site := h.Sites.Current(h.Site)
	var done any
	if h.Done != nil {
		done = h.Done
	}
	link.Core.ServeHTTP(site, w, req, h.Adapter, h.Log, done, time.Now())
}

// Retracter is implemented by a host's response writer that holds what it
// is given before it goes out (the CGI host holds 64 KiB): Retract drops it
// and reports true if nothing has reached the client yet, so that an error
// after a handler began its response (a panic) is still answered whole by
// core.Site.Serve.
type Retracter interface {
	Retract() bool
}

// DiscardWriter is an http.ResponseWriter that keeps headers and drops
// everything written: hosts that run phases only for their outcome (auth
// checks) bind requests to it, so nothing a handler writes can leak out.
type DiscardWriter struct{ Headers http.Header }

// Header implements http.ResponseWriter.
func (w *DiscardWriter) Header() http.Header {
	if w.Headers == nil {
		w.Headers = http.Header{}
	}
	return w.Headers
}

// WriteHeader implements http.ResponseWriter; the status is dropped.
func (w *DiscardWriter) WriteHeader(int) {}

// Write implements http.ResponseWriter; the bytes are dropped.
func (w *DiscardWriter) Write(p []byte) (int, error) { return len(p), nil }
