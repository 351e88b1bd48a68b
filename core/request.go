package core

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core/internal/link"
)

// Kind tells a handler why it is running: for the client's own request, or
// for one the host made on its behalf (Apache subrequests for
// DirectoryIndex and internal redirects for ErrorDocument).
type Kind int

const (
	Initial          Kind = iota // the client's request
	Subrequest                   // Apache lookup_uri and friends
	InternalRedirect             // Apache ErrorDocument, mod_rewrite [PT], ...
)

// Request is one HTTP request as every host presents it to handlers: the
// fields mod_python's request object had that make sense on all hosts. Fields
// a host sets before the first phase may be read by any handler; the
// response fields may be written until the response starts.
//
// A Request is owned by the host for the duration of the request: handlers
// must not keep it after they return.
type Request struct {
	// Method is the request method ("GET").
	Method string
	// URI is the request target exactly as the client sent it, unparsed.
	URI string
	// Path is the %-decoded path with dot segments removed; locations match on
	// it.
	Path string
	// RawQuery is the query string without '?', still %-encoded.
	RawQuery string
	// Proto is the protocol, "HTTP/1.1".
	Proto string
	// Host is the Host header (or :authority) the client sent.
	Host string
	// Scheme is "http" or "https".
	Scheme string
	// RemoteAddr is the client address, "ip:port", or "ip" where the host
	// does not know the port.
	RemoteAddr string
	// Header holds the request headers, except Host (see Host), as
	// net/http presents them.
	Header http.Header
	// Body is the request body; never nil (empty for no body). Reading past
	// the site's body limit fails with an error for which StatusForError
	// gives 413.
	Body io.Reader
	// ContentLength is the body's declared length; -1 if unknown (chunked).
	ContentLength int64

	// Status is the response status sent when the response starts; zero
	// means 200.
	Status int
	// ResponseHeader holds the headers sent with a successful response
	// (Apache's headers_out).
	ResponseHeader http.Header

	// User is the authenticated user; empty until the authn phase sets it.
	User string
	// AuthType is the scheme that authenticated User ("Basic", "Bearer").
	AuthType string
	// Identity carries what authentication learned beyond the user name
	// (groups, claims); nil until authn sets it.
	Identity *Identity
	// AuthChecked says the web server already ran this request's access,
	// authn and authz phases through us, apart from content (nginx's
	// auth_request, Apache's mod_authnz_fcgi), and the host set User and
	// AuthType from their outcome. Site.Serve then skips those three
	// phases, so a password is checked once per request, not twice.
	//
	// Why a field and not a host-side copy of Serve: the pipeline's order
	// and error path stay in one place. Only what the web server's
	// configuration says may set it, never anything a client sends; a
	// host that cannot tell leaves it false and the phases run again,
	// which is slower but safe. Only User and AuthType cross from the
	// check: groups, claims and notes the auth handlers set are not seen
	// by later phases.
	AuthChecked bool

	// Adapter names the host serving this request ("standalone", "apache").
	Adapter string
	// Kind tells initial requests from host-made ones.
	Kind Kind

	st       link.State // what only the host sets (core/host), and the response's progress
	httpBody typedBody  // Body on net/http hosts, kept here to cost no allocation
	observer Observer   // the site's, set by Serve
}

// Identity is what authentication established about the user.
type Identity struct {
	User     string
	AuthType string
	// Groups the user belongs to, where the provider knows them.
	Groups []string
	// Claims from a token or directory entry, for claim-based authz.
	Claims map[string]any
	// ByWebServer says the web server authenticated the user before any
	// phase ran (the CGI host's REMOTE_USER): the authn phase passes it,
	// authz still decides. No other host sets it: over FastCGI even a
	// proven user is checked again unless the web server says the auth
	// phases ran (AuthChecked).
	ByWebServer bool
}

// Context returns the request's context, cancelled when the client goes away.
func (r *Request) Context() context.Context {
	if r.st.Ctx == nil {
		return context.Background()
	}
	return r.st.Ctx
}

// Log returns the request's logger; on Apache it writes to the error log.
func (r *Request) Log() *zerolog.Logger {
	if r.st.Log == nil {
		// Kept, so a request no host bound (tests, benchmarks) allocates
		// its no-op logger once, not on every line it would log.
		nop := zerolog.Nop()
		r.st.Log = &nop
	}
	return r.st.Log
}

// Phase returns the phase currently running.
func (r *Request) Phase() Phase { return Phase(r.st.Phase) }

// ErrHeader holds headers sent with every response, error responses included
// (Apache's err_headers_out): WWW-Authenticate belongs here.
func (r *Request) ErrHeader() http.Header {
	if r.st.ErrHeader == nil {
		r.st.ErrHeader = make(http.Header)
	}
	return r.st.ErrHeader
}

// Note returns the note key set by an earlier phase, or "".
func (r *Request) Note(key string) string { return r.st.Notes[key] }

// SetNote records a note for later phases (Apache's r->notes).
func (r *Request) SetNote(key, value string) {
	if r.st.Notes == nil {
		r.st.Notes = make(map[string]string)
	}
	r.st.Notes[key] = value
}

// Notes returns all notes; the map is the request's own.
func (r *Request) Notes() map[string]string { return r.st.Notes }

// ResponseStarted reports whether the status and headers have been sent, after
// which neither can change.
func (r *Request) ResponseStarted() bool { return r.st.Started }

// BytesWritten is the number of body bytes written so far.
func (r *Request) BytesWritten() int64 { return r.st.Written }

// StatusCode is the status sent or to be sent: Status, or 200 if unset.
func (r *Request) StatusCode() int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}

func (r *Request) start() {
	if r.st.Started {
		return
	}
	r.st.Started = true
	copyHeader(r.ResponseHeader, r.st.ErrHeader)
	r.st.W.WriteHeader(r.StatusCode())
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = append(dst[k], v...)
	}
}

// Write sends body bytes, starting the response first if needed. For HEAD
// requests the host discards the body.
func (r *Request) Write(p []byte) (int, error) {
	r.start()
	n, err := r.st.W.Write(p)
	r.st.Written += int64(n)
	return n, err
}

// WriteString is Write for a string.
func (r *Request) WriteString(s string) (int, error) {
	r.start()
	n, err := io.WriteString(r.st.W, s)
	r.st.Written += int64(n)
	return n, err
}

// Flush starts the response if needed and pushes buffered bytes to the client.
func (r *Request) Flush() error {
	r.start()
	return http.NewResponseController(r.st.W).Flush()
}

// retract takes back a response that has started but not gone out, where
// the host's writer can (host.Retracter).
func (r *Request) retract() bool {
	rt, ok := r.st.W.(interface{ Retract() bool })
	if !ok || !rt.Retract() {
		return false
	}
	r.st.Started, r.st.Written = false, 0
	return true
}

// sendError answers with status through the host's error path: headers_out
// are dropped and err_headers_out kept, as Apache does.
func (r *Request) sendError(status int) {
	if r.st.Started {
		return
	}
	// Like Apache, keep Location for redirects and 201: a handler that
	// returns 302 after setting it means a redirect.
	location := r.ResponseHeader.Get("Location")
	clear(r.ResponseHeader)
	if location != "" && (status/100 == 3 || status == http.StatusCreated) {
		r.ResponseHeader.Set("Location", location)
	}
	r.Status = status
	r.ResponseHeader.Set("Content-Type", "text/plain; charset=utf-8")
	r.ResponseHeader.Set("X-Content-Type-Options", "nosniff")
	r.WriteString(errorBody(status))
}

func errorBody(status int) string {
	text := http.StatusText(status)
	if text == "" {
		return "error\n"
	}
	return strconv.Itoa(status) + " " + text + "\n"
}
