package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/inproc"
	"github.com/anyhost/anyhost/internal/wire"
)

// reqState is what Go keeps for one Apache request across the phases that
// run Go. It is pooled: a request that runs Go in one phase only borrows it
// for that call and allocates nothing.
type reqState struct {
	lib    *library
	r      unsafe.Pointer // request_rec, never dereferenced here
	handle uintptr        // slot+1 while C holds it, else 0

	req      core.Request
	in       wire.Request
	rd       wire.Reader
	hdr      inproc.Headers
	handlers []core.Handler
	w        responseWriter
	body     bodyReader
	logw     logWriter
	logger   zerolog.Logger
	out      wire.Writer

	envLoaded bool
	loadEnv   func() map[string]string
}

func newState(lib *library) *reqState {
	st := &reqState{lib: lib}
	st.w.st = st
	st.w.header = make(http.Header)
	st.body.st = st
	st.logw.st = st
	st.logger = zerolog.New(&st.logw)
	st.loadEnv = st.fetchEnv
	return st
}

// fill reads this call's request record into st.req. Apache modules may have
// changed anything since the last phase, so everything is read again.
//
// rec is Apache's memory (the request pool, reused once the request ends),
// so it is copied into Go memory first, in one allocation per call: every
// string a handler is given (method, path, header values, notes) is then a
// view of that copy, which the garbage collector keeps for as long as any
// of them lives. Handlers may keep them (a map key, a lock token, a late log
// line), as Go strings promise.
func (st *reqState) fill(r unsafe.Pointer, rec []byte) error {
	st.r = r
	st.rd.Reset(bytes.Clone(rec))
	st.rd.ReadRequest(&st.in)
	st.hdr.Reset()
	st.rd.Pairs(st.hdr.Add)
	notes := st.req.Notes()
	clear(notes)
	st.rd.Pairs(st.req.SetNote)
	if err := st.rd.Err(); err != nil {
		return err
	}
	q, req := &st.in, &st.req
	req.Method, req.URI, req.RawQuery, req.Proto, req.Host = q.Method, q.URI, q.Args, q.Proto, q.Host
	req.Path = core.CleanPath(q.Path)
	req.Scheme = q.Scheme
	req.RemoteAddr = q.RemoteAddr
	req.Header = st.hdr.Map
	req.ContentLength = q.ContentLength
	req.User, req.AuthType = q.User, q.AuthType
	req.Adapter = "apache"
	req.Kind = core.Kind(q.Kind)
	req.Body = &st.body
	host.SetEnvLoader(req, st.loadEnv)
	host.SetPanicLog(req, &st.lib.panics)
	clear(st.w.header)
	st.logger = st.logger.Level(inproc.ZerologLevel(q.LogLevel))
	host.Bind(req, &st.w, nil, &st.logger)
	return nil
}

func (st *reqState) fetchEnv() map[string]string {
	st.envLoaded = true
	env := map[string]string{}
	var rd wire.Reader
	rd.Reset(bytes.Clone(st.lib.apache.env(st.r))) // Apache's pool: copied, as in fill
	rd.Pairs(func(k, v string) { env[k] = v })
	return env
}

// finish writes what this call changed into a response record: identity,
// path, notes, environment, headers, and the response if it started and has
// not gone out yet. status is what the phase returned.
func (st *reqState) finish(content bool, status core.Status) []byte {
	w, req, q := &st.out, &st.req, &st.in
	w.Reset()
	if req.User != q.User {
		w.Op(wire.OpUser, "", req.User)
	}
	if req.AuthType != q.AuthType {
		w.Op(wire.OpAuthType, "", req.AuthType)
	}
	if req.Path != core.CleanPath(q.Path) {
		w.Op(wire.OpPath, "", req.Path)
	}
	for k, v := range req.Notes() {
		w.Op(wire.OpNote, k, v)
	}
	if st.envLoaded {
		for k, v := range host.EnvLoaded(req) {
			w.Op(wire.OpEnv, k, v)
		}
	}
	if to := host.PendingRedirect(req); content && to != "" && !req.ResponseStarted() {
		w.Op(wire.OpRedirect, "", to) // mod_anyhost serves it (ap_internal_redirect)
	}
	if !req.ResponseStarted() {
		// Headers for an error response or for whoever writes the
		// response later (Apache itself, another module).
		for k, vs := range req.ErrHeader() {
			for _, v := range vs {
				w.Op(wire.OpErrHeaderAdd, k, v)
			}
		}
		if !content {
			st.w.headerOps(w)
		} else if status.IsHTTP() && (status/100 == 3 || status == http.StatusCreated) {
			// A handler that set Location and returned a redirect
			// status means a redirect: Apache's error response keeps
			// Location from headers_out (ap_send_error_response), so
			// it goes there, as core's error path keeps it.
			for _, v := range st.w.header.Values("Location") {
				w.Op(wire.OpHeaderAdd, "Location", v)
			}
		}
	} else {
		// The status and headers if they have not gone yet, and what was
		// written since the last push: a handler that flushed and then
		// wrote less than flushAt lost that tail (seen as a 10 MiB CGI
		// answer 32 KiB short).
		st.w.responseOps(w)
	}
	clear(req.ErrHeader())
	return w.Buf
}

// reset readies st for another request.
func (st *reqState) reset() {
	host.Reset(&st.req)
	st.w.reset()
	st.body.err = nil
	st.envLoaded = false
	st.r = nil
	st.handle = 0
}

// responseWriter is the http.ResponseWriter core.Request writes through on
// Apache. The body is buffered and goes to Apache with the status and
// headers in one record, at the end of the call, on Flush, or when the
// buffer fills.
type responseWriter struct {
	st          *reqState
	header      http.Header
	status      int
	wroteHeader bool
	sent        bool // status and headers are with Apache
	body        []byte
	failed      bool // the client is gone
}

const flushAt = 64 << 10

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader, w.status = true, code
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, io.ErrClosedPipe
	}
	w.body = append(w.body, p...)
	if len(w.body) >= flushAt {
		if err := w.push(false); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.push(true)
}

// push sends what is pending to Apache now.
func (w *responseWriter) push(flush bool) error {
	if w.failed {
		return io.ErrClosedPipe
	}
	rec := &w.st.out
	rec.Reset()
	w.responseOps(rec)
	switch w.st.lib.apache.send(w.st.r, rec.Buf, flush) {
	case 0:
		return nil
	case sendBroken:
		w.st.req.Log().Error().Msg("bridge: Apache could not apply a response record")
	}
	w.failed = true
	return io.ErrClosedPipe
}

// sendBroken is what Apache's send answers for a record it could not apply
// (a bug of the bridge, never of the client); -1 is a client gone.
const sendBroken = -2

// responseOps appends the status and headers (once) and the pending body.
func (w *responseWriter) responseOps(rec *wire.Writer) {
	if !w.sent {
		rec.Status(w.status)
		w.headerOps(rec)
		w.sent = true
	}
	if len(w.body) > 0 {
		rec.Body(w.body)
		w.body = w.body[:0]
	}
}

// headerOps appends the response headers as replacements: a handler's
// Header().Set means the same on Apache as on net/http.
func (w *responseWriter) headerOps(rec *wire.Writer) {
	for k, vs := range w.header {
		rec.Op(wire.OpHeaderUnset, k, "")
		for _, v := range vs {
			rec.Op(wire.OpHeaderAdd, k, v)
		}
	}
	clear(w.header)
}

func (w *responseWriter) reset() {
	clear(w.header)
	w.status, w.wroteHeader, w.sent, w.failed = 0, false, false, false
	if cap(w.body) > 4*flushAt {
		w.body = nil // do not pin a huge buffer in the pool
	}
	w.body = w.body[:0]
}

// bodyReader reads the request body through Apache's input filters
// (dechunking, LimitRequestBody, 100-continue).
type bodyReader struct {
	st  *reqState
	err error // io.EOF or the error that ended the body, returned again
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := readResult(b.st.lib.apache.readBody(b.st.r, p), len(p))
	b.err = err
	return n, err
}

// errBadRead is a count from Apache's read_body that cannot be one.
var errBadRead = errors.New("bridge: Apache's read_body reported more bytes than the buffer holds")

// readResult turns what Apache's read_body returned for a buffer of max
// bytes into Read's results. A count past the buffer is a broken bridge,
// never bytes (a negated AP_FILTER_ERROR once arrived as "102 bytes read");
// it answers 500.
func readResult(n, max int) (int, error) {
	switch {
	case n > max:
		return 0, fmt.Errorf("%w (%d into %d)", errBadRead, n, max)
	case n > 0:
		return n, nil
	case n == 0:
		return 0, io.EOF
	case n == -http.StatusRequestEntityTooLarge:
		return 0, core.ErrBodyTooLarge
	case n == -http.StatusRequestTimeout:
		return 0, core.ErrBodyTimeout
	}
	return 0, io.ErrUnexpectedEOF
}

// logWriter sends zerolog's lines to Apache's error log for the request.
type logWriter struct{ st *reqState }

func (l *logWriter) Write(p []byte) (int, error) {
	return l.WriteLevel(zerolog.InfoLevel, p)
}

func (l *logWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	n := len(p)
	for n > 0 && p[n-1] == '\n' {
		n--
	}
	l.st.lib.apache.log(l.st.r, inproc.AplogLevel(level), p[:n])
	return len(p), nil
}
