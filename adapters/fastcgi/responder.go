package fastcgi

// The Responder role (spec section 6.2): the whole site runs for the
// request and the answer goes back as a CGI response on STDOUT.

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
)

var requests = sync.Pool{New: func() any { return new(core.Request) }}

func (s *Server) respond(req *request, env map[string]string) {
	r := requests.Get().(*core.Request)
	defer func() {
		host.Reset(r)
		requests.Put(r)
	}()
	w := &responseWriter{out: req.out, header: make(http.Header, 4)}
	sp, ok := s.fill(req, r, env, true)
	if !ok {
		return
	}
	// Only the web server's own word, proven by its secret, says who the
	// user is and that the auth phases ran; otherwise they run here.
	trusted := s.Secrets.Configured() && !s.RunsAuth
	site := s.current()
	if trusted && sp.authDone {
		// The auth phases ran elsewhere: only for the location the site
		// matches. (Where they run here, a location the web server named
		// from an older site file does no harm: the site's own runs.)
		if _, err := checkLocation(site, r, sp); err != nil {
			s.Log.Error().Err(err).Str("uri", r.URI).Msg("fastcgi: request refused")
			writeStatus(req.out, http.StatusInternalServerError, nil)
			return
		}
	}
	if trusted && sp.authDone {
		// The user only with the word that the auth phases ran: where
		// they run here (another Require replaced the authorizer's,
		// satisfy any, a hand-edited config), a user param is not ours
		// to believe.
		r.AuthChecked = true
		if sp.user != "" {
			r.User, r.AuthType = sp.user, sp.authType
			r.Identity = &core.Identity{User: r.User, AuthType: r.AuthType}
		}
	}
	r.Adapter, r.Body = s.Adapter, req.body
	host.Bind(r, w, req.ctx, &s.Log)
	if r.ContentLength > site.Limits.WithDefaults().MaxBody {
		// Refuse before any phase runs, as core's net/http bridge does.
		r.Status = http.StatusRequestEntityTooLarge
		r.ResponseHeader["Content-Type"] = textPlain
		r.WriteString("413 Request Entity Too Large\n")
		core.RunPhase(core.Log, site.Match(r.Path).Handlers[core.Log], r)
		return
	}
	site.Serve(r)
	if !w.wrote {
		w.WriteHeader(r.StatusCode())
	}
}

// fill fills r from the request's params, answering the request itself
// (and returning false) when they do not make one: a bad target is 400,
// other bad variables 500, and, with proof, a request without the web
// server's secret 403. The params the web server adds for us come back
// apart.
func (s *Server) fill(req *request, r *core.Request, env map[string]string, proof bool) (serverParams, bool) {
	sp := takeServerParams(env)
	if err := host.RequestFromCGI(r, env, host.CGIOptions{}); err != nil {
		s.Log.Error().Err(err).Msg("fastcgi: bad CGI variables")
		code := http.StatusInternalServerError
		if errors.Is(err, host.ErrRequestURI) {
			code = http.StatusBadRequest
		}
		writeStatus(req.out, code, nil)
		return sp, false
	}
	if proof && !s.proven(req, sp) {
		writeStatus(req.out, http.StatusForbidden, nil)
		return sp, false
	}
	return sp, true
}

// proven reports whether a request may go on: with secrets configured, it
// must carry one of them (the web server's configuration sends it with
// every request); without, nothing is proven and nothing is refused, but
// the caller believes no identity.
func (s *Server) proven(req *request, sp serverParams) bool {
	if s.Secrets.Admits(sp.secret) {
		return true
	}
	if ok, more := s.refusals.Allow(); ok {
		s.Log.Warn().Str("remote", req.c.nc.RemoteAddr().String()).Bool("secret_sent", sp.secret != "").Int("more_since_last_line", more).
			Msg("fastcgi: request without the web server's secret refused (another local process, or a web server configured without `--secret-dir`)")
	}
	return false
}

var textPlain = []string{"text/plain; charset=utf-8"}

// responseWriter is the http.ResponseWriter handlers write through: the
// status and headers become a CGI header block ("Status: 200 OK") at the
// start of STDOUT.
type responseWriter struct {
	out    *outStream
	header http.Header
	wrote  bool
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	writeHead(w.out, code, w.header)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.out.Write(p)
}

// Flush sends the STDOUT records buffered so far at once.
func (w *responseWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.out.Flush()
}

// writeHead writes the CGI header block. Keys are written as given, so a
// caller that needs exact case (Variable-REMOTE_USER) sets the map key
// directly. CR and LF in names or values would let a handler inject
// headers: names with them are dropped, values have them replaced.
func writeHead(out *outStream, code int, h http.Header) {
	var line [64]byte
	b := append(line[:0], "Status: "...)
	b = strconv.AppendInt(b, int64(code), 10)
	if text := http.StatusText(code); text != "" {
		b = append(b, ' ')
		b = append(b, text...)
	}
	b = append(b, "\r\n"...)
	out.Write(b)
	for k, vs := range h {
		if k == "" || strings.ContainsAny(k, "\r\n:") {
			continue
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			out.WriteString(k)
			out.WriteString(": ")
			out.WriteString(v)
			out.WriteString("\r\n")
		}
	}
	out.WriteString("\r\n")
}

// writeStatus answers with code and a short text body, for failures that
// happen before or instead of the site (bad params, an authorizer's
// denial).
func writeStatus(out *outStream, code int, h http.Header) {
	if h == nil {
		h = http.Header{}
	}
	h["Content-Type"] = textPlain
	writeHead(out, code, h)
	out.WriteString(strconv.Itoa(code) + " " + http.StatusText(code) + "\n")
}
