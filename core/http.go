package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core/internal/target"
)

// This file joins core to net/http both ways: a Site serves any net/http
// server, and any http.Handler runs as a content handler.

var requestPool = sync.Pool{New: func() any { return new(Request) }}

// ServeHTTP runs the site for a net/http request, reporting adapter
// "net/http" and logging nowhere. Hosts name themselves and log through
// host.HTTPHandler.
func (s *Site) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	s.serveHTTP(w, req, "net/http", nil, nil, time.Time{})
}

// serveHTTP serves req through a pooled Request; done, if set, runs after
// the log phase while the request is still valid (hosts write their access
// log from it).
func (s *Site) serveHTTP(w http.ResponseWriter, req *http.Request, adapter string, log *zerolog.Logger, done func(*Request, time.Time), began time.Time) {
	r := requestPool.Get().(*Request)
	r.Adapter = adapter
	err := fromHTTP(r, req)
	r.bind(w, req.Context(), log)
	limits := s.Limits.WithDefaults()
	switch {
	case err != nil:
		// Before any phase: there is no path to match a location on.
		r.sendError(http.StatusBadRequest)
	case req.ContentLength > limits.MaxBody:
		// Refuse before any phase runs, as Apache's LimitRequestBody does,
		// so a handler never sees a body it cannot finish reading.
		r.sendError(http.StatusRequestEntityTooLarge)
		RunPhase(Log, s.Match(r.Path).Handlers[Log], r)
	default:
		if hr := r.st.HTTP; hr.Body != nil && hr.Body != http.NoBody {
			// The *http.Request view must carry the limit too, or an
			// http.Handler run as content could read past it.
			r.httpBody = typedBody{http.MaxBytesReader(w, hr.Body, limits.MaxBody), req.Context()}
			hr.Body = &r.httpBody
			r.Body = hr.Body
		}
		s.Serve(r)
	}
	if done != nil {
		done(r, began)
	}
	r.reset()
	requestPool.Put(r)
}

// typedBody gives net/http's body errors a type: its chunked-encoding
// errors are unexported, and StatusForError must tell a client's broken
// body (400) from a failure of ours (500) without reading error text. It
// is both r.Body and the *http.Request view's Body.
type typedBody struct {
	rc  io.ReadCloser
	ctx context.Context
}

func (b *typedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF || b.ctx.Err() != nil {
		return n, err // a client that went away broke nothing
	}
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	if errors.As(err, &tooLarge) || errors.As(err, &netErr) || errors.Is(err, http.ErrBodyReadAfterClose) {
		return n, err
	}
	return n, fmt.Errorf("%w: %w", ErrBodyMalformed, err)
}

func (b *typedBody) Close() error { return b.rc.Close() }

// fromHTTP fills r's request fields from a net/http request; the response
// side is set by bind. The path comes from req.URL through the one target parse (host.ParseTarget), as
// on every host, and the request content sees through HTTPRequest carries
// that same path: net/http leaves dot segments and repeated slashes in
// URL.Path, and a handler routing on it could serve another location than
// the one whose auth phases ran. req.URL, not RequestURI: a handler in
// front of the site (http.StripPrefix) may have rewritten it, and the site
// must match what it was given. A path that does not parse is
// target.ErrEncoding (400).
func fromHTTP(r *Request, req *http.Request) error {
	r.Method = req.Method
	r.URI = req.RequestURI
	if r.URI == "" {
		r.URI = req.URL.RequestURI()
	}
	// The path only: net/http has split the query off already, and
	// joining them again would cost an allocation per request.
	t, err := target.Parse(req.URL.EscapedPath())
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
	r.st.HTTP = req
	return nil
}

// HTTPRequest returns a net/http view of r for libraries that want one. On
// net/http hosts it is the original request (with the path cleaned as
// FromHTTP says); elsewhere it is built once from r's fields. Its URL is r's
// Path and RawQuery, never a second reading of URI, so a handler routing on
// it routes on the path the auth phases were decided on.
func (r *Request) HTTPRequest() *http.Request {
	if r.st.HTTP != nil {
		return r.st.HTTP
	}
	u := &url.URL{Path: r.Path, RawQuery: r.RawQuery}
	if strings.IndexByte(r.URI, '%') >= 0 {
		// Only an escaped target has a RawPath to keep: the client's
		// escaping, where it means the same path.
		if t, err := target.Parse(r.URI); err == nil && t.Path == r.Path && t.RawQuery == r.RawQuery {
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
	r.st.HTTP = req.WithContext(r.Context())
	return r.st.HTTP
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
	if !v.r.st.Started {
		v.r.Status = code
		v.r.start()
	}
}
func (v responseView) Flush() { _ = v.r.Flush() }

// Unwrap lets http.NewResponseController reach the host's writer for
// deadlines and full duplex.
func (v responseView) Unwrap() http.ResponseWriter { return v.r.st.W }

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
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, http.ErrLineTooLong), errors.Is(err, ErrBodyMalformed):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// ErrBodyTooLarge is returned by body readers of hosts that enforce the body
// limit themselves.
var ErrBodyTooLarge = errors.New("anyhost: request body too large")

// ErrBodyMalformed wraps a body reader's error for a body the client
// broke (a bad chunked encoding): StatusForError gives 400.
var ErrBodyMalformed = errors.New("anyhost: malformed request body")

// ErrBodyTimeout is returned by body readers of hosts when the rest of the
// body did not arrive in time (StatusForError: 408).
var ErrBodyTimeout = errors.New("anyhost: request body timed out")
