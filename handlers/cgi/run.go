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
	"sync"

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

// run starts the script, feeds it the body, and answers with its output.
func (h *Handler) run(ctx context.Context, r *core.Request, t target) core.Status {
	log := r.Log().With().Str("script", t.file).Logger()
	inR, inW, err := os.Pipe()
	if err != nil {
		return h.fail(r, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return h.fail(r, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return h.fail(r, err)
	}
	p, err := spawn.Start(t.file, []string{t.file}, h.env(r, t), filepath.Dir(t.file), inR, outW, errW)
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return h.fail(r, err)
	}

	// The process group dies at the timeout or when the client goes away;
	// whatever happens, the script is reaped before Handle returns.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			p.KillGroup()
		case <-done:
		}
	}()
	go func() {
		defer wg.Done()
		if r.ContentLength != 0 {
			io.Copy(inW, r.Body) // a script that does not read its body closes the pipe
		}
		inW.Close()
	}()
	go func() {
		defer wg.Done()
		logStderr(errR, &log)
	}()
	st := h.answer(r, bufio.NewReaderSize(outR, 32<<10), &log)
	io.Copy(io.Discard, outR) // what the script still writes, so it can finish
	outR.Close()
	state, werr := p.Wait()
	close(done)
	wg.Wait()
	errR.Close()

	switch {
	case ctx.Err() == context.DeadlineExceeded && r.Context().Err() == nil:
		log.Error().Dur("timeout", h.timeout).Msg("cgi: script timed out: its process group was killed")
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
		if err != nil || n < 100 || n > 599 {
			log.Error().Str("status", s).Msg("cgi: bad Status header: 500")
			return http.StatusInternalServerError
		}
		status = n
	}
	header.Del("Status")
	loc := header.Get("Location")
	if loc != "" && status == 0 && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
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
				return core.Done // the client went away; the group is killed
			}
			if out.Buffered() == 0 && n < len(buf) {
				r.Flush()
			}
		}
		if err != nil {
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

// logStderr sends the script's stderr to the request's log, a line each,
// at most maxStderrLines lines.
func logStderr(rd io.Reader, log *zerolog.Logger) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		if n++; n <= maxStderrLines {
			log.Warn().Str("stderr", sc.Text()).Msg("cgi: script wrote to stderr")
		}
	}
	if n > maxStderrLines {
		log.Warn().Int("lines_not_logged", n-maxStderrLines).Msg("cgi: script wrote more to stderr")
	}
	io.Copy(io.Discard, rd)
}
