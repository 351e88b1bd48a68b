package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/inproc"
	"github.com/anyhost/anyhost/internal/wire"
)

const (
	// chunk is what the writer gathers before it tells the loop (a Flush
	// or the handler's return tells it sooner).
	chunk = 64 << 10
	// maxUnsent bounds what a handler may have written that nginx has not
	// taken: past it Write blocks until the client drains (nginx holds at
	// most one more take, ~96 KiB, in its own buffers).
	maxUnsent = 256 << 10
	// maxHead bounds the response head (status and headers).
	maxHead = 32 << 10
)

// reqState is what Go keeps for one nginx request across its phases.
//
// Between jobs only the loop thread touches it (start, take); while a job
// runs, its goroutine owns the request fields and the loop thread touches
// only what mu guards. Nothing here points into nginx's memory but r,
// which is never dereferenced and is handed back to C only while nginx
// holds the request.
type reqState struct {
	lib    *library
	handle uintptr

	req       core.Request
	in        wire.Request
	rd        wire.Reader
	hdr       inproc.Headers
	buf       []core.Handler
	job       inproc.Job
	phase     core.Phase
	nginxPath string // nginx's uri at the last fill: Go's own path change survives until nginx moves it
	user      string // what nginx was told last
	authType  string
	body      requestBody
	logger    zerolog.Logger
	logw      logWriter
	ctx       context.Context
	stop      context.CancelFunc
	w         responseWriter

	mu        sync.Mutex
	wake      sync.Cond // the writer waits here for the loop to take
	r         unsafe.Pointer
	released  bool
	running   bool
	done      bool // the job ended; status is its answer
	delivered bool // the loop took the end
	status    core.Status
	queued    bool
	paused    bool
	canceled  bool
	logs      wire.Writer // 'L' ops not taken yet
	result    wire.Writer // the ended job's identity and header ops
}

func newState(lib *library) *reqState {
	st := &reqState{lib: lib}
	st.wake.L = &st.mu
	st.w.st = st
	st.w.header = make(http.Header)
	st.logw.st = st
	st.logger = zerolog.New(&st.logw)
	return st
}

// start fills the request from nginx's record and starts the phase's job
// on a goroutine; without a job it answers at once.
func (st *reqState) start(r unsafe.Pointer, phase core.Phase, ids []int32, rec, body []byte) (core.Status, bool) {
	st.mu.Lock()
	st.r = r
	busy := st.running
	st.mu.Unlock()
	if busy {
		// nginx never starts a phase while one runs; if it did, the
		// goroutine owns the request fields.
		return http.StatusInternalServerError, false
	}
	if err := st.fill(rec); err != nil {
		st.req.Log().Error().Err(err).Msg("nginx bridge: bad request record")
		return http.StatusInternalServerError, false
	}
	st.job = st.lib.Plan(phase, &st.req, ids, &st.buf)
	if !st.job.Runs() {
		return st.job.Status(), false
	}
	if phase == core.Content {
		if err := st.body.load(body); err != nil {
			st.req.Log().Error().Err(err).Msg("nginx bridge: reading the request body nginx stored")
			return http.StatusInternalServerError, false
		}
	}
	st.phase = phase
	if st.handle == 0 {
		// Before the goroutine starts: its notice names the handle.
		st.handle = st.lib.slots.Put(st)
	}
	st.mu.Lock()
	st.running, st.done, st.delivered = true, false, false
	st.mu.Unlock()
	st.lib.workers.run(st)
	return 0, true
}

// fill reads this phase's request record into st.req. The record is
// nginx's memory (the request pool): it is copied first, in one
// allocation, and every string a handler is given is a view of the copy.
// Identity and notes are Go's own and stay from phase to phase.
func (st *reqState) fill(rec []byte) error {
	st.rd.Reset(bytes.Clone(rec))
	st.rd.ReadRequest(&st.in)
	// A new map each time: a handler's goroutine may still read the last
	// one (nginx's jobs overlap handlers' own goroutines, unlike a
	// synchronous host), and a map written while read kills the process.
	st.hdr = inproc.Headers{}
	st.hdr.Reset()
	st.rd.Pairs(st.hdr.Add)
	st.rd.Pairs(func(string, string) {}) // notes: none from nginx
	if err := st.rd.Err(); err != nil {
		return err
	}
	q, req := &st.in, &st.req
	req.Method, req.URI, req.RawQuery, req.Proto, req.Host = q.Method, q.URI, q.Args, q.Proto, q.Host
	if q.Path != st.nginxPath {
		req.Path = core.CleanPath(q.Path)
		st.nginxPath = q.Path
	}
	req.Scheme = q.Scheme
	req.RemoteAddr = q.RemoteAddr
	req.Header = st.hdr.Map
	req.ContentLength = q.ContentLength
	req.Adapter = "nginx-module"
	req.Kind = core.Kind(q.Kind)
	req.Body = &st.body
	host.SetPanicLog(req, &st.lib.panics)
	st.logger = st.logger.Level(inproc.ZerologLevel(q.LogLevel))
	host.Bind(req, &st.w, st.ctx, &st.logger)
	return nil
}

func (st *reqState) run() {
	status := core.Status(http.StatusInternalServerError)
	defer func() {
		if v := recover(); v != nil {
			panicked(st, v)
			status = http.StatusInternalServerError
		}
		st.end(status)
	}()
	status = st.job.Run(&st.req)
	if !st.req.ResponseStarted() && host.PendingRedirect(&st.req) == "" &&
		(status == core.Done || st.phase == core.Content && status == core.OK) {
		// Done says the response is complete: an empty 200 (or the
		// status set) still goes out, from any phase.
		st.req.Write(nil)
	}
}

// end records the job's answer and what nginx must learn from it, and
// tells the loop.
func (st *reqState) end(status core.Status) {
	req := &st.req
	st.mu.Lock()
	defer st.mu.Unlock()
	rec := &st.result
	rec.Reset()
	if req.User != st.user {
		rec.Op(wire.OpUser, "", req.User)
		st.user = req.User
	}
	if req.AuthType != st.authType {
		rec.Op(wire.OpAuthType, "", req.AuthType)
		st.authType = req.AuthType
	}
	if !st.w.wroteHeader {
		if to := host.PendingRedirect(req); st.phase == core.Content && to != "" {
			rec.Op(wire.OpRedirect, "", to)
		}
		// Headers for an error page, or for whoever writes the response
		// later (nginx, a later phase's handler).
		for k, vs := range req.ErrHeader() {
			for _, v := range vs {
				rec.Op(wire.OpErrHeaderAdd, k, v)
			}
		}
		if st.phase != core.Content {
			headerOps(rec, st.w.header)
			clear(st.w.header)
		} else if status.IsHTTP() && (status/100 == 3 || status == http.StatusCreated) {
			// As core's error path and Apache: a handler that set
			// Location and returned a redirect status means a
			// redirect; nginx's page for the status carries it.
			for _, v := range st.w.header.Values("Location") {
				rec.Op(wire.OpErrHeaderAdd, "Location", v)
			}
		}
	}
	clear(req.ErrHeader())
	if len(rec.Buf) > maxHead {
		// It must fit in one take.
		st.logLocked(ngxLevel(zerolog.ErrorLevel), fmt.Sprintf("nginx bridge: %d bytes of headers and identity from the %s phase: more than %d", len(rec.Buf), st.phase, maxHead))
		rec.Reset()
		status = http.StatusInternalServerError
	}
	if st.w.declared >= 0 && st.w.written < st.w.declared {
		// Fewer bytes than the handler's Content-Length: the client can
		// only tell by the connection closing, as on net/http.
		rec.Op(wire.OpClose, "", "")
	}
	st.running, st.done, st.status = false, true, status
	st.notifyLocked()
}

// notifyLocked queues st for the loop, once until it takes.
func (st *reqState) notifyLocked() {
	if st.queued || st.handle == 0 {
		return
	}
	st.queued = true
	st.lib.ready.push(st.handle)
}

type takeResult struct {
	n      int
	r      unsafe.Pointer
	flags  int
	status core.Status
	drop   bool
}

const (
	takeResume = 1 // AHN_TAKE_RESUME
	flagDone   = 1 // AHN_DONE
	flagMore   = 2 // AHN_MORE
	flagFlush  = 4 // AHN_FLUSH
	opOverhead = 1 + 4 + 4
)

// take copies into out what the loop may have now: log lines, then the
// response head and body (unless paused), then the job's end.
func (st *reqState) take(mode int, out []byte) takeResult {
	st.mu.Lock()
	defer st.mu.Unlock()
	var res takeResult
	st.queued = false
	res.r = st.r
	if mode == takeResume {
		st.paused = false
	}
	n := copyOps(out, &st.logs)
	if len(st.logs.Buf) > 0 {
		res.flags |= flagMore
	}
	if st.released {
		res.n = n
		res.drop = !st.running && len(st.logs.Buf) == 0
		return res
	}
	w := &st.w
	if w.wroteHeader && !st.paused && len(st.logs.Buf) == 0 {
		if !w.headSent && n+len(w.head.Buf) <= len(out) {
			n += copy(out[n:], w.head.Buf)
			w.headSent = true
		}
		if w.headSent {
			if room := len(out) - n - opOverhead; room > 0 && len(w.pending) > 0 {
				k := min(room, len(w.pending))
				n += putBody(out[n:], w.pending[:k])
				w.pending = w.pending[:copy(w.pending, w.pending[k:])]
				st.wake.Broadcast()
			}
			if len(w.pending) > 0 {
				res.flags |= flagMore
			} else if w.flush {
				res.flags |= flagFlush
				w.flush = false
			}
		} else {
			res.flags |= flagMore
		}
	}
	if st.done && !st.delivered && res.flags&flagMore == 0 && (!w.wroteHeader || (w.headSent && len(w.pending) == 0)) {
		if n+len(st.result.Buf) <= len(out) {
			n += copy(out[n:], st.result.Buf)
			res.flags |= flagDone
			res.status = st.status
			st.delivered = true
		} else {
			res.flags |= flagMore
		}
	}
	res.n = n
	return res
}

// copyOps moves the whole ops of from that fit into out; the rest stays.
func copyOps(out []byte, from *wire.Writer) int {
	b := from.Buf
	n := 0
	for n < len(b) {
		size := opSize(b[n:])
		if size < 0 || n+size > len(out) {
			break
		}
		n += size
	}
	copy(out, b[:n])
	from.Buf = b[:copy(b, b[n:])]
	return n
}

func opSize(b []byte) int {
	if len(b) < opOverhead {
		return -1
	}
	kl := int(nativeU32(b[1:]))
	if len(b) < 1+4+kl+4 {
		return -1
	}
	vl := int(nativeU32(b[1+4+kl:]))
	return opOverhead + kl + vl
}

func nativeU32(b []byte) uint32 { return *(*uint32)(unsafe.Pointer(&b[0])) }

func putBody(out []byte, p []byte) int {
	var w wire.Writer
	w.Buf = out[:0]
	w.Body(p)
	return len(w.Buf)
}

func (st *reqState) pause() {
	st.mu.Lock()
	st.paused = true
	st.mu.Unlock()
}

// cancel: nginx is done with the request (client gone, timeout). The
// handler's context is cancelled and its writes fail.
func (st *reqState) cancel() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.canceled = true
	// Nothing more goes to the client: what waits is dropped and the pause
	// lifted, so that the job's end reaches the loop (which waits for it).
	st.paused = false
	st.w.pending = st.w.pending[:0]
	st.stop()
	st.wake.Broadcast()
	st.notifyLocked()
}

// release: nginx frees the request. It reports whether st can go now;
// else it goes once its goroutine ended and its log lines were taken.
func (st *reqState) release() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.r, st.released, st.canceled = nil, true, true
	st.stop()
	st.wake.Broadcast()
	if st.running || len(st.logs.Buf) > 0 {
		st.notifyLocked()
		return false
	}
	return true
}

func (st *reqState) reset() {
	host.Reset(&st.req)
	st.body.close()
	st.w.reset()
	st.stop()
	st.handle, st.r, st.released, st.running, st.done, st.delivered = 0, nil, false, false, false, false
	st.queued, st.paused, st.canceled = false, false, false
	st.user, st.authType, st.nginxPath = "", "", ""
	st.logs.Reset()
	st.result.Reset()
	st.job = inproc.Job{}
	clear(st.buf)
}

// log queues a line for nginx's error log (written by the loop thread).
func (st *reqState) log(level int, msg string) {
	st.mu.Lock()
	st.logLocked(level, msg)
	st.mu.Unlock()
}

// maxLogLine bounds a log line (nginx's own error log lines stop at 2 KiB);
// a longer one is cut, so that every line fits in one take.
const maxLogLine = 16 << 10

func (st *reqState) logLocked(level int, msg string) {
	if len(msg) > maxLogLine {
		msg = msg[:maxLogLine] + "... (cut)"
	}
	st.logs.Op(wire.OpLog, strconv.Itoa(level), msg)
	st.notifyLocked()
}

// logWriter sends zerolog's lines to nginx's error log for the request.
type logWriter struct{ st *reqState }

func (l *logWriter) Write(p []byte) (int, error) { return l.WriteLevel(zerolog.InfoLevel, p) }

func (l *logWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	n := len(p)
	for n > 0 && p[n-1] == '\n' {
		n--
	}
	l.st.log(ngxLevel(level), string(p[:n]))
	return len(p), nil
}

// responseWriter is the http.ResponseWriter core.Request writes through.
// The head is recorded when it is written (a handler's later changes to
// the header map have no effect, as on net/http); the body collects until
// the loop takes it.
type responseWriter struct {
	st          *reqState
	header      http.Header
	declared    int64 // the handler's Content-Length, or -1
	written     int64
	wroteHeader bool
	head        wire.Writer // status and header ops, taken once
	headSent    bool
	pending     []byte
	flush       bool
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	st := w.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.declared = -1
	if cl := w.header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			w.header.Del("Content-Length") // nginx frames the body itself
		} else {
			w.declared = n
		}
	}
	w.head.Reset()
	w.head.Status(code)
	headerOps(&w.head, w.header)
	clear(w.header)
	if len(w.head.Buf) > maxHead {
		// It must fit in one take; nginx refuses far less from upstreams.
		w.head.Reset()
		w.head.Status(http.StatusInternalServerError)
		st.logs.Op(wire.OpLog, strconv.Itoa(ngxLevel(zerolog.ErrorLevel)), fmt.Sprintf("response headers of %d bytes: more than %d", len(w.head.Buf), maxHead))
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	st := w.st
	st.mu.Lock()
	defer st.mu.Unlock()
	written := 0
	var tooMuch error
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		// As net/http: never more than the declared length, which nginx
		// sends as is (the rest would be read as the next response).
		p = p[:w.declared-w.written]
		tooMuch = http.ErrContentLength
	}
	defer func() { w.written += int64(written) }()
	for len(p) > 0 {
		if st.canceled {
			return written, io.ErrClosedPipe
		}
		room := maxUnsent - len(w.pending)
		if room <= 0 {
			st.notifyLocked()
			st.wake.Wait()
			continue
		}
		k := min(room, len(p))
		w.pending = append(w.pending, p[:k]...)
		p = p[k:]
		written += k
	}
	if len(w.pending) >= chunk {
		st.notifyLocked()
	}
	return written, tooMuch
}

func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	st := w.st
	st.mu.Lock()
	w.flush = true
	st.notifyLocked()
	st.mu.Unlock()
}

func (w *responseWriter) reset() {
	clear(w.header)
	w.declared, w.written = -1, 0
	w.wroteHeader, w.headSent, w.flush = false, false, false
	w.head.Reset()
	if cap(w.pending) > maxUnsent {
		w.pending = nil
	}
	w.pending = w.pending[:0]
}

// headerOps appends header replacements: Header().Set means the same on
// nginx as on net/http.
//
// nginx writes header lines as given: names that are not tokens are
// dropped and CR, LF and NUL in values become spaces (net/http does the
// same), so a handler's value cannot split the response.
func headerOps(rec *wire.Writer, h http.Header) {
	for k, vs := range h {
		if !isToken(k) {
			continue
		}
		rec.Op(wire.OpHeaderUnset, k, "")
		for _, v := range vs {
			rec.Op(wire.OpHeaderAdd, k, headerValue.Replace(v))
		}
	}
}

var headerValue = strings.NewReplacer("\r", " ", "\n", " ", "\x00", " ")

// isToken reports whether s is an RFC 9110 token (a valid field name).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// requestBody reads the body nginx read before content started: memory
// segments copied at start, temp-file segments through a dup of nginx's
// descriptor (nginx closes and unlinks its own when the request ends).
type requestBody struct {
	parts []io.Reader
	files []*os.File
	cur   io.Reader
}

var errBodyRecord = errors.New("nginx bridge: malformed body record")

func (b *requestBody) load(rec []byte) error {
	b.close()
	if len(rec) == 0 {
		return nil
	}
	var rd wire.Reader
	rd.Reset(rec)
	n := rd.U32()
	for i := uint32(0); i < n && rd.Err() == nil; i++ {
		switch rd.U32() {
		case 0:
			b.parts = append(b.parts, bytes.NewReader([]byte(rd.String())))
		case 1:
			fd, off, size := int(int32(rd.U32())), rd.I64(), rd.I64()
			if rd.Err() != nil {
				break
			}
			nfd, err := syscall.Dup(fd)
			if err != nil {
				return fmt.Errorf("dup of the body's temp file: %w", err)
			}
			syscall.CloseOnExec(nfd)
			f := os.NewFile(uintptr(nfd), "nginx request body")
			b.files = append(b.files, f)
			b.parts = append(b.parts, io.NewSectionReader(f, off, size))
		default:
			return errBodyRecord
		}
	}
	if err := rd.Err(); err != nil {
		return err
	}
	b.cur = io.MultiReader(b.parts...)
	return nil
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.cur == nil {
		return 0, io.EOF
	}
	return b.cur.Read(p)
}

func (b *requestBody) close() {
	for _, f := range b.files {
		f.Close()
	}
	clear(b.parts)
	b.parts, b.files, b.cur = b.parts[:0], b.files[:0], nil
}
