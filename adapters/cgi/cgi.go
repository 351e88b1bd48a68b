// Package cgi runs a site for one request as a CGI/1.1 program (RFC 3875):
// the web server (Apache's mod_cgi/mod_cgid, lighttpd's mod_cgi) starts
// the program per request with the request in its environment and body on
// stdin, and reads the response from stdout. The whole pipeline runs.
//
// This host alone may believe a REMOTE_USER the web server set, where its
// configuration says so (TrustRemoteUser): the server authenticated the
// request before starting the program (the site's require rules still run
// on that user). Where the server passes
// HTTP_AUTHORIZATION instead (Apache's CGIPassAuth On, lighttpd), the
// site's own authn phase checks the credentials.
package cgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
)

// Adapter is the name requests report in Request.Adapter.
const Adapter = "cgi"

// TrustRemoteUser is the variable the web server's configuration sets to
// "1" (Apache: SetEnv; a wrapper script: export) where it authenticates
// requests itself: only then is its REMOTE_USER believed. Never by
// default: nginx with fcgiwrap passes the name a client typed into Basic
// auth, unverified, as REMOTE_USER. A client cannot set it (its headers
// arrive as HTTP_*).
const TrustRemoteUser = "ANYHOST_TRUST_REMOTE_USER"

// holdBytes is how much output is held back before it goes out: a handler
// that fails (an error status, a panic) before writing this much, without
// flushing, gets its error answered whole instead of a response cut short.
const holdBytes = 64 << 10

// Serve answers the one request env describes (the program's environment),
// reading its body from stdin and writing the CGI response (a header block
// with Status, then the body) to stdout. Errors in the request are
// answered (400, 413, 500), not returned; the error returned is one
// writing to stdout.
func Serve(site *core.Site, env map[string]string, stdin io.Reader, stdout io.Writer, log zerolog.Logger) (err error) {
	dst := &countingWriter{w: stdout}
	w := &responseWriter{dst: dst, out: bufio.NewWriterSize(dst, holdBytes), header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			// Outside any handler (those are recovered in their phase).
			log.Error().Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("cgi: panic")
			if !w.started {
				w.header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte("500 Internal Server Error\n"))
			}
		}
		if ferr := w.out.Flush(); err == nil {
			err = ferr
		}
	}()
	r := new(core.Request)
	r.Adapter = Adapter
	host.Bind(r, w, context.Background(), &log)
	trust := env[TrustRemoteUser] == "1"
	delete(env, TrustRemoteUser)
	if err := host.RequestFromCGI(r, env, host.CGIOptions{TrustRemoteUser: trust}); err != nil {
		log.Error().Err(err).Msg("cgi: the web server's variables make no request")
		status := http.StatusInternalServerError
		if errors.Is(err, host.ErrRequestURI) {
			status = http.StatusBadRequest // the client's target
		}
		w.error(status)
		return nil
	}
	limits := site.Limits.WithDefaults()
	if r.ContentLength > limits.MaxBody {
		// Before any phase, as every host refuses a declared body past
		// the limit.
		w.error(http.StatusRequestEntityTooLarge)
		core.RunPhase(core.Log, site.Match(r.Path).Handlers[core.Log], r)
		return nil
	}
	b := &body{r: stdin, left: r.ContentLength, max: limits.MaxBody}
	r.Body = b
	site.Serve(r)
	b.drain()
	return nil
}

// drain reads what the handlers left of a declared body. Apache's mod_cgid
// writes the whole body to the program before it reads the answer: a
// program that exits with more than a pipe's worth unread breaks that
// write, and Apache drops the response (the client gets no answer at
// all). A response within holdBytes is still held here, so draining
// cannot wait on the server reading it.
func (b *body) drain() {
	if b.left > 0 {
		_, _ = io.Copy(io.Discard, io.LimitReader(b, b.max-b.read+1))
	}
}

// body is the request body on stdin: CONTENT_LENGTH bytes, or, when the
// server sent none (a chunked request), up to EOF and at most the site's
// limit.
type body struct {
	r    io.Reader
	left int64 // bytes still to come; -1 unknown
	max  int64
	read int64
}

func (b *body) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.left > 0 {
		b.left -= int64(n)
		if err == io.EOF && b.left > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if b.read > b.max {
		return n, core.ErrBodyTooLarge
	}
	return n, err
}

// responseWriter writes the CGI response: "Status: 200 OK" and the headers
// when the response starts, held with the first holdBytes of body.
type responseWriter struct {
	dst     *countingWriter
	out     *bufio.Writer
	header  http.Header
	started bool
}

// Retract implements host.Retracter: what is held is dropped if none of it
// has gone to the web server.
func (w *responseWriter) Retract() bool {
	if w.dst.n > 0 {
		return false
	}
	w.out.Reset(w.dst)
	w.started = false
	return true
}

// countingWriter counts what reached the web server.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.started {
		return
	}
	w.started = true
	fmt.Fprintf(w.out, "Status: %d %s\r\n", code, http.StatusText(code))
	w.header.Del("Status")
	for k := range w.header {
		if k == "" || strings.ContainsAny(k, "\r\n:") {
			delete(w.header, k) // a name that would inject headers
		}
	}
	w.header.Write(w.out) // values: CR and LF become spaces
	w.out.WriteString("\r\n")
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.out.Write(p)
}

// Flush sends what is held to the web server.
func (w *responseWriter) Flush() {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	w.out.Flush()
}

// error answers status before anything was written.
func (w *responseWriter) error(status int) {
	w.header.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.out.WriteString(strconv.Itoa(status) + " " + http.StatusText(status) + "\n")
}

var _ host.Retracter = (*responseWriter)(nil)
