package cgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/spawn"
)

// Bounds on what a script sends before its body.
const (
	maxHeaderBytes = 64 << 10
	maxStderrLines = 100 // logged per run; the rest are counted
)

// errNoHeader is a script whose output does not start with a header block.
var errNoHeader = errors.New("cgi: the script's output has no header block (a blank line after the headers)")

// grace is how long output may still be read after the script was killed.
const grace = 5 * time.Second

// run starts the script, feeds it the body, and answers with its output.
// Every call into the host (writing, logging, reading the body) happens on
// this goroutine: inside Apache those are calls into Apache, which allows
// one thread per request.
func (h *Handler) run(ctx context.Context, r *core.Request, t target, stdin *os.File) core.Status {
	log := r.Log().With().Str("script", t.file).Logger()
	outR, outW, err := os.Pipe()
	if err != nil {
		return h.fail(r, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return h.fail(r, err)
	}
	p, err := spawn.Start(t.file, []string{t.file}, h.env(r, t), filepath.Dir(t.file), stdin, outW, errW)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return h.fail(r, err)
	}

	// The waiter reaps the script. At the timeout (or when the client goes
	// away) the process group is killed, and what is left to read gets
	// grace: a process that left the group (setsid) may hold stdout open.
	exited, finished := make(chan struct{}), make(chan struct{})
	defer close(finished)
	var state *os.ProcessState
	var werr error
	go func() {
		state, werr = p.Wait()
		close(exited)
	}()
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-exited: // reaped: its pid may be another's by now
			default:
				p.KillGroup()
			}
			deadline := time.Now().Add(grace)
			outR.SetReadDeadline(deadline)
			errR.SetReadDeadline(deadline)
		case <-finished:
		}
	}()
	var stderr stderrLines
	stderrDone := make(chan struct{})
	go func() {
		stderr.collect(errR)
		close(stderrDone)
	}()
	st := h.answer(r, bufio.NewReaderSize(outR, 32<<10), &log)
	io.Copy(io.Discard, outR) // what the script still writes, so it can finish
	outR.Close()
	<-exited
	<-stderrDone
	errR.Close()
	stderr.log(&log)

	switch {
	case ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil:
		log.Error().Stringer("timeout", h.timeout).Msg("cgi: script timed out: its process group was killed")
		if !r.ResponseStarted() {
			return http.StatusGatewayTimeout
		}
	case werr != nil:
		log.Error().Err(werr).Msg("cgi: waiting for the script")
	case !state.Success() && r.Context().Err() == nil:
		log.Warn().Str("exit", state.String()).Msg("cgi: script failed")
	}
	return st
}

// spool reads the request body whole into an unlinked temporary file, the
// script's stdin (/dev/null without a body). Read before the script starts,
// on the request's goroutine: a client that sends its body slowly holds no
// slot, and a script that answers before reading cannot make the host drop
// the rest of the body (net/http discards an unread body once the response
// starts).
func spool(r *core.Request) (*os.File, core.Status) {
	if r.ContentLength == 0 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			return nil, http.StatusInternalServerError
		}
		return f, core.OK
	}
	f, err := os.CreateTemp("", "anyhost-cgi-body-")
	if err != nil {
		r.Log().Error().Err(err).Msg("cgi: cannot spool the request body")
		return nil, http.StatusInternalServerError
	}
	os.Remove(f.Name())
	if _, err := io.Copy(f, r.Body); err != nil {
		f.Close()
		if st := core.StatusForError(err); st != http.StatusInternalServerError {
			return nil, st
		}
		r.Log().Error().Err(err).Msg("cgi: cannot spool the request body")
		return nil, http.StatusInternalServerError
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, http.StatusInternalServerError
	}
	return f, core.OK
}

func (h *Handler) fail(r *core.Request, err error) core.Status {
	r.Log().Error().Err(err).Msg("cgi: cannot start the script")
	return http.StatusInternalServerError
}

// answer reads the script's header block and streams the rest. A local
// redirect (a Location that is a path, no Status) serves that path instead
// (core.Request.LocalRedirect: its location's auth runs); a Location with
// a scheme is a 302 unless Status says otherwise.
func (h *Handler) answer(r *core.Request, out *bufio.Reader, log *zerolog.Logger) core.Status {
	header, err := readHeader(out)
	if err != nil {
		log.Error().Err(err).Msg("cgi: bad script output: 500")
		return http.StatusInternalServerError
	}
	status := 0
	if s := header.Get("Status"); s != "" {
		code, _, _ := strings.Cut(strings.TrimSpace(s), " ")
		n, err := strconv.Atoi(code)
		if err != nil || n < 200 || n > 599 {
			log.Error().Str("status", s).Msg("cgi: bad Status header: 500")
			return http.StatusInternalServerError
		}
		status = n
	}
	header.Del("Status")
	loc := header.Get("Location")
	if loc != "" && status == 0 && strings.HasPrefix(loc, "/") {
		// A path, "//x" included (RFC 3875's abs-path; mod_cgi takes it
		// as local too): never a redirect to another host.
		if err := r.LocalRedirect(loc); err != nil {
			log.Error().Err(err).Str("location", loc).Msg("cgi: bad local redirect: 500")
			return http.StatusInternalServerError
		}
		return core.Done
	}
	if loc != "" && status == 0 {
		status = http.StatusFound
	}
	for k, vs := range header {
		switch k {
		case "Connection", "Keep-Alive", "Transfer-Encoding", "Te", "Trailer", "Upgrade", "Proxy-Connection":
			continue // the connection's framing is the host's, never the script's
		}
		r.ResponseHeader[k] = vs
	}
	if status != 0 {
		r.Status = status
	}
	// Streamed as it comes: a chunk is flushed whenever the script pauses.
	buf := make([]byte, 32<<10)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			if _, werr := r.Write(buf[:n]); werr != nil {
				log.Info().Err(werr).Int64("sent_bytes", r.BytesWritten()).Msg("cgi: the client went away")
				return core.Done // the client went away; the group is killed
			}
			if out.Buffered() == 0 && n < len(buf) {
				r.Flush()
			}
		}
		if err != nil {
			if err != io.EOF {
				log.Warn().Err(err).Int64("sent_bytes", r.BytesWritten()).Msg("cgi: reading the script's output")
			}
			break
		}
	}
	if !r.ResponseStarted() {
		r.Write(nil)
	}
	return core.Done
}

// readHeader reads the header block, which must end with a blank line
// within maxHeaderBytes. Lines may end in LF or CRLF.
func readHeader(out *bufio.Reader) (http.Header, error) {
	var block bytes.Buffer
	for {
		line, err := out.ReadSlice('\n')
		if err == bufio.ErrBufferFull || block.Len()+len(line) > maxHeaderBytes {
			return nil, errors.New("cgi: the script's header block is larger than 64 KiB")
		}
		if err != nil {
			return nil, errNoHeader
		}
		block.Write(line)
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	if block.Len() <= 2 {
		return nil, errNoHeader // no header at all: CGI requires Content-Type, Location or Status
	}
	h, err := textproto.NewReader(bufio.NewReader(&block)).ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, errors.Join(errNoHeader, err)
	}
	return http.Header(h), nil
}

// stderrLines holds what a script wrote to stderr, logged once it is done
// (from the request's goroutine): at most maxStderrLines lines.
type stderrLines struct {
	lines   []string
	dropped int
}

func (s *stderrLines) collect(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		if len(s.lines) < maxStderrLines {
			s.lines = append(s.lines, sc.Text())
		} else {
			s.dropped++
		}
	}
	io.Copy(io.Discard, rd)
}

func (s *stderrLines) log(log *zerolog.Logger) {
	for _, l := range s.lines {
		log.Warn().Str("stderr", l).Msg("cgi: script wrote to stderr")
	}
	if s.dropped > 0 {
		log.Warn().Int("lines_not_logged", s.dropped).Msg("cgi: script wrote more to stderr")
	}
}
