package core

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// This file joins core to net/http both ways: a Site serves any net/http
// server, and any http.Handler runs as a content handler.

var requestPool = sync.Pool{New: func() any { return new(Request) }}

// ServeHTTP runs the site for a net/http request, reporting adapter
// "net/http" and logging nowhere. Hosts use Handler to name themselves.
func (s *Site) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r := s.serveHTTP(w, req, "net/http", nil)
	r.Reset()
	requestPool.Put(r)
}

// HTTPHandler serves a site to net/http on behalf of a host.
type HTTPHandler struct {
	Site *Site
	// Adapter is reported to handlers as Request.Adapter.
	Adapter string
	// Log is the requests' logger; nil logs nowhere.
	Log *zerolog.Logger
	// Done, if set, is called after the log phase while the request is
	// still valid: hosts write their access log from it.
	Done func(r *Request, start time.Time)
}

// ServeHTTP implements http.Handler.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	r := h.Site.serveHTTP(w, req, h.Adapter, h.Log)
	if h.Done != nil {
		h.Done(r, start)
	}
	r.Reset()
	requestPool.Put(r)
}

func (s *Site) serveHTTP(w http.ResponseWriter, req *http.Request, adapter string, log *zerolog.Logger) *Request {
	r := requestPool.Get().(*Request)
	r.Adapter = adapter
	if err := FromHTTP(r, req); err != nil {
		// Before any phase: there is no path to match a location on.
		r.Bind(w, req.Context(), log)
		r.sendError(http.StatusBadRequest)
		return r
	}
	r.Bind(w, req.Context(), log)
	limits := s.Limits.WithDefaults()
	if req.ContentLength > limits.MaxBody {
		// Refuse before any phase runs, as Apache's LimitRequestBody does,
		// so a handler never sees a body it cannot finish reading.
		r.sendError(http.StatusRequestEntityTooLarge)
		RunPhase(Log, s.Match(r.Path).Handlers[Log], r)
		return r
	}
	if hr := r.hreq; hr.Body != nil && hr.Body != http.NoBody {
		// The *http.Request view must carry the limit too, or an
		// http.Handler run as content could read past it.
		hr.Body = http.MaxBytesReader(w, hr.Body, limits.MaxBody)
		r.Body = hr.Body
	}
	s.Serve(r)
	return r
}

// FromHTTP fills r's request fields from a net/http request; the response
// side is set by Bind. The path comes from req.URL through ParseTarget, as
// on every host, and the request content sees through HTTPRequest carries
// that same path: net/http leaves dot segments and repeated slashes in
// URL.Path, and a handler routing on it could serve another location than
// the one whose auth phases ran. req.URL, not RequestURI: a handler in
// front of the site (http.StripPrefix) may have rewritten it, and the site
// must match what it was given. A path that does not parse is
// ErrTargetEncoding (400).
func FromHTTP(r *Request, req *http.Request) error {
	r.Method = req.Method
	r.URI = req.RequestURI
	if r.URI == "" {
		r.URI = req.URL.RequestURI()
	}
	// The path only: net/http has split the query off already, and
	// joining them again would cost an allocation per request.
	t, err := ParseTarget(req.URL.EscapedPath())
	if err != nil {
		return err
	}
	t.RawQuery = req.URL.RawQuery
	r.Path = t.Path
	r.RawQuery = t.RawQuery
	r.Proto = req.Proto
	r.Host = req.Host
	r.Scheme = "http"
	if req.TLS != nil {
		r.Scheme = "https"
	}
	r.RemoteAddr = req.RemoteAddr
	r.Header = req.Header
	r.Body = req.Body
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.ContentLength = req.ContentLength
	if req.URL.Path != t.Path || req.URL.RawPath != t.RawPath || req.URL.RawQuery != t.RawQuery {
		// A shallow copy, as http.StripPrefix makes: the caller's request
		// stays as it was.
		u := *req.URL
		u.Path, u.RawPath, u.RawQuery = t.Path, t.RawPath, t.RawQuery
		r2 := new(http.Request)
		*r2 = *req
		r2.URL = &u
		req = r2
	}
	r.hreq = req
	return nil
}

// HTTPRequest returns a net/http view of r for libraries that want one. On
// net/http hosts it is the original request (with the path cleaned as
// FromHTTP says); elsewhere it is built once from r's fields. Its URL is r's
// Path and RawQuery, never a second reading of URI, so a handler routing on
// it routes on the path the auth phases were decided on.
func (r *Request) HTTPRequest() *http.Request {
	if r.hreq != nil {
		return r.hreq
	}
	u := &url.URL{Path: r.Path, RawQuery: r.RawQuery}
	if strings.IndexByte(r.URI, '%') >= 0 {
		// Only an escaped target has a RawPath to keep: the client's
		// escaping, where it means the same path.
		if t, err := ParseTarget(r.URI); err == nil && t.Path == r.Path && t.RawQuery == r.RawQuery {
			u.RawPath = t.RawPath
		}
	}
	major, minor, _ := http.ParseHTTPVersion(r.Proto)
	req := &http.Request{
		Method:        r.Method,
		URL:           u,
		Proto:         r.Proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        r.Header,
		Body:          io.NopCloser(r.Body),
		ContentLength: r.ContentLength,
		Host:          r.Host,
		RemoteAddr:    r.RemoteAddr,
		RequestURI:    r.URI,
	}
	r.hreq = req.WithContext(r.Context())
	return r.hreq
}

// FromHTTPHandler runs an http.Handler as a content handler: it writes the
// response through r and the phase outcome is OK.
func FromHTTPHandler(h http.Handler) Handler {
	return HandlerFunc(func(r *Request) Status {
		h.ServeHTTP(responseView{r}, r.HTTPRequest())
		return OK
	})
}

type responseView struct{ r *Request }

func (v responseView) Header() http.Header { return v.r.ResponseHeader }
func (v responseView) Write(p []byte) (int, error) {
	return v.r.Write(p)
}
func (v responseView) WriteHeader(code int) {
	if !v.r.started {
		v.r.Status = code
		v.r.start()
	}
}
func (v responseView) Flush() { _ = v.r.Flush() }

// Unwrap lets http.NewResponseController reach the host's writer for
// deadlines and full duplex.
func (v responseView) Unwrap() http.ResponseWriter { return v.r.w }

// StatusForError maps an error from reading the request body to the status
// to answer with: 413 past the body limit, 400 for a client that sent a
// broken body, 500 otherwise.
func StatusForError(err error) Status {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge), errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBodyTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, http.ErrLineTooLong),
		strings.Contains(err.Error(), "chunk"): // net/http's chunked-reader errors are unexported
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// ErrBodyTooLarge is returned by body readers of hosts that enforce the body
// limit themselves.
var ErrBodyTooLarge = errors.New("anyhost: request body too large")

// ErrBodyTimeout is returned by body readers of hosts when the rest of the
// body did not arrive in time (StatusForError: 408).
var ErrBodyTimeout = errors.New("anyhost: request body timed out")

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
