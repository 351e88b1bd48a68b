package fastcgi

// This file is the application side of a FastCGI connection: accepting
// connections, reading records, keeping track of the requests multiplexed on
// each, and ending them. What a request does is in responder.go and
// authorizer.go.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/listen"
	"github.com/anyhost/anyhost/internal/ratelog"
	"github.com/anyhost/anyhost/internal/secret"
)

// Adapter is the name requests report in Request.Adapter.
const Adapter = "fastcgi"

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("fastcgi: server closed")

// Server serves a site to web servers speaking FastCGI.
type Server struct {
	// Site is what the Responder role serves and whose auth phases the
	// Authorizer role runs. SetSite replaces it while the server runs.
	Site *core.Site
	// Sites, if set, is the slot a host shares between its servers (nginx's
	// FastCGI and auth sockets), where SetSite puts the site it swaps in.
	Sites *host.SiteSlot
	// Log receives error lines and is the requests' logger.
	Log zerolog.Logger
	// MaxConns bounds open connections (further ones wait in the listen
	// backlog); advertised as FCGI_MAX_CONNS. Default 1024.
	MaxConns int
	// MaxReqs bounds requests running (their PARAMS ended) over all
	// connections; a request past it is answered 503. Advertised as
	// FCGI_MAX_REQS. Default 512. Requests still receiving PARAMS are not
	// counted (a peer opening many without sending PARAMS cannot lock the
	// web server out): there may be maxPending of them per connection, and
	// ParamsTimeout and MaxParamsTotal bound them.
	MaxReqs int
	// ParamsTimeout bounds the time from BEGIN_REQUEST to the end of its
	// PARAMS: a web server sends them at once, so a peer that does not is
	// cut off (its connection closed) instead of holding a request slot.
	// Default: the site's ReadHeaderTimeout.
	ParamsTimeout time.Duration
	// MaxParamsTotal bounds the memory holding PARAMS of requests that
	// have not started, over all connections; a request past it is
	// answered 503. Default 16 MiB.
	MaxParamsTotal int64
	// Adapter is reported to handlers as Request.Adapter. Default "fastcgi";
	// the nginx adapter sets its own name.
	Adapter string
	// Secrets are the web server's secrets (secret.Param). With any, a
	// request must carry one, and then its identity params are believed
	// where ANYHOST_AUTH_DONE=1 says the auth phases ran; with none (nil),
	// every request runs its auth phases here and ANYHOST_USER is ignored.
	Secrets *secret.Set
	// RunsAuth says the web server never runs an auth check before
	// content (nginx's generated configuration): every location's auth
	// phases run here, and the identity params (ANYHOST_USER,
	// ANYHOST_AUTH_TYPE, ANYHOST_AUTH_DONE) are ignored even with the
	// secret, so a hand-edited web server configuration cannot make a
	// user appear.
	RunsAuth bool

	once    sync.Once
	sem     chan struct{}
	reqs    atomic.Int64
	tracked listen.Conns[*conn]

	refusals ratelog.Limiter // requests without the secret
	limited  ratelog.Limiter // requests a limit refused or cut off
	// buffered is the PARAMS bytes held by requests not yet started.
	buffered atomic.Int64
}

// paramsTimeout is ParamsTimeout or its default from the site's limits.
func (s *Server) paramsTimeout(l core.Limits) time.Duration {
	if s.ParamsTimeout > 0 {
		return s.ParamsTimeout
	}
	return l.ReadHeaderTimeout
}

// logLimit logs a limit that refused or cut off a request, at most once a
// minute with the number not logged since.
func (s *Server) logLimit(c *conn, msg string) {
	if ok, more := s.limited.Allow(); ok {
		s.Log.Warn().Str("remote", c.nc.RemoteAddr().String()).Int("more_since_last_line", more).Msg(msg)
	}
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.MaxConns <= 0 {
			s.MaxConns = 1024
		}
		if s.MaxReqs <= 0 {
			s.MaxReqs = 512
		}
		if s.MaxParamsTotal <= 0 {
			s.MaxParamsTotal = 16 << 20
		}
		if s.Adapter == "" {
			s.Adapter = Adapter
		}
		s.sem = make(chan struct{}, s.MaxConns)
		if s.Sites == nil {
			s.Sites = new(host.SiteSlot)
		}
	})
}

// SetSite replaces the site for requests that begin from now on; requests
// in progress finish on the site they began with. It is safe to call while
// serving (reloading the site file on SIGHUP).
func (s *Server) SetSite(site *core.Site) {
	s.init()
	s.Sites.Set(site)
}

// current is the site a request begins with.
func (s *Server) current() *core.Site { return s.Sites.Current(s.Site) }

// Serve accepts connections on ln until Shutdown or an accept error.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	if !s.tracked.AddListener(ln) {
		return ErrServerClosed
	}
	defer s.tracked.RemoveListener(ln)
	closing := s.tracked.Closing()
	var backoff time.Duration
	for {
		select {
		case s.sem <- struct{}{}:
		case <-closing:
			return ErrServerClosed
		}
		nc, err := ln.Accept()
		if err != nil {
			<-s.sem
			if s.tracked.ShuttingDown() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.Log.Warn().Err(err).Msg("fastcgi: accept failed; retrying")
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc)
		if !s.tracked.Add(c) {
			c.cancel()
			nc.Close()
			<-s.sem
			return ErrServerClosed
		}
		go func() {
			defer func() { <-s.sem }()
			c.serve()
		}()
	}
}

// Shutdown stops accepting, closes idle connections, waits for requests in
// progress to end, and returns; when ctx ends first it closes every
// connection (cancelling their requests' contexts) and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	return s.tracked.Shutdown(ctx)
}

// conn is one connection from the web server; requests on it may be
// multiplexed (we advertise FCGI_MPXS_CONNS=1).
type conn struct {
	srv    *Server
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // request goroutines
	wmu    sync.Mutex     // whole records go out one write at a time
	mu     sync.Mutex
	reqs   map[uint16]*request
	// draining is set once a request without FCGI_KEEP_CONN has ended.
	draining atomic.Bool
	// pending counts requests whose PARAMS have not ended; while any
	// has, reads have the ParamsTimeout deadline. Owned by the read loop.
	pending int
}

// request is one request's state on its connection.
type request struct {
	c       *conn
	id      uint16
	role    Role
	keep    bool
	started bool   // PARAMS ended; the request runs; owned by the read loop
	params  []byte // the PARAMS stream so far
	tooBig  bool   // past maxParams: answered 431
	busy    bool   // past the server's MaxParamsTotal: answered 503
	counted bool   // running, counted in the server's reqs
	body    *body
	out     *outStream
	ctx     context.Context
	cancel  context.CancelFunc
}

func (s *Server) newConn(nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{srv: s, nc: nc, ctx: ctx, cancel: cancel, reqs: map[uint16]*request{}}
}

// readers pools the 64 KiB read buffer together with the record buffer:
// a fresh pair per connection would cost 128 KiB of allocation each.
var readers = sync.Pool{New: func() any {
	return &recordReader{br: bufio.NewReaderSize(nil, 64<<10)}
}}

// errClose ends the read loop without logging: the protocol says to close.
var errClose = errors.New("close")

// errParamsBudget fails a request whose PARAMS did not fit in the server's
// MaxParamsTotal, or that found MaxReqs requests running: 503.
var errParamsBudget = errors.New("fastcgi: server busy")

// maxPending is how many requests a connection may have receiving PARAMS
// at once.
const maxPending = 8

func (c *conn) serve() {
	rr := readers.Get().(*recordReader)
	rr.br.Reset(c.nc)
	defer func() {
		c.nc.Close()
		c.cancel()
		c.mu.Lock()
		for id, req := range c.reqs {
			req.cancel()
			req.body.fail(ErrAborted)
			if !req.started { // no goroutine will finish it
				c.srv.buffered.Add(-int64(cap(req.params)))
				delete(c.reqs, id)
			}
		}
		c.mu.Unlock()
		c.wg.Wait()
		rr.br.Reset(nil)
		readers.Put(rr)
		c.srv.tracked.Remove(c)
	}()
	c.idle()
	for {
		rec, err := rr.next()
		if err == nil {
			err = c.handle(rec)
		}
		if err != nil {
			switch {
			case c.pending > 0 && errors.Is(err, os.ErrDeadlineExceeded):
				c.srv.logLimit(c, "fastcgi: PARAMS did not end within the params timeout: connection closed")
			case err != errClose && err != io.EOF && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded):
				c.srv.Log.Warn().Err(err).Str("remote", c.nc.RemoteAddr().String()).Msg("fastcgi: closing connection")
			}
			return
		}
	}
}

// idle sets the read deadline for a connection waiting for its next
// request. While requests run there is none: a handler may stream for long
// while the web server has nothing to send.
func (c *conn) idle() {
	c.nc.SetReadDeadline(time.Now().Add(c.srv.current().Limits.WithDefaults().IdleTimeout))
}

// CloseIfIdle closes the connection when no request is in progress on it
// (listen.Conn, for a graceful shutdown).
func (c *conn) CloseIfIdle() {
	c.mu.Lock()
	if len(c.reqs) == 0 {
		c.nc.Close()
	}
	c.mu.Unlock()
}

// Close closes the connection, requests in progress or not.
func (c *conn) Close() error { return c.nc.Close() }

func (c *conn) send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if wt := c.srv.current().Limits.WriteTimeout; wt > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(wt))
	}
	_, err := c.nc.Write(b)
	return err
}

func (c *conn) lookup(id uint16) *request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reqs[id]
}

func (c *conn) handle(rec record) error {
	if c.draining.Load() {
		return nil
	}
	switch rec.typ {
	case typeGetValues:
		return c.getValues(rec.content)
	case typeBeginRequest:
		return c.begin(rec)
	case typeAbortRequest:
		if req := c.lookup(rec.id); req != nil {
			if !req.started {
				c.paramsEnded(req)
				return c.finish(req, statusRequestComplete)
			}
			req.out.discard.Store(true)
			req.cancel()
			req.body.fail(ErrAborted)
		}
	case typeParams:
		req := c.lookup(rec.id)
		if req == nil || req.started {
			return nil // records for inactive requests are ignored (spec 3.3)
		}
		// The budget counts the buffers' capacity: what they hold in memory.
		switch was := int64(cap(req.params)); {
		case len(rec.content) == 0:
			c.start(req)
		case req.tooBig || req.busy:
		case len(req.params)+len(rec.content) > maxParams:
			c.srv.buffered.Add(-was)
			req.tooBig, req.params = true, nil
		case len(req.params)+len(rec.content) > cap(req.params):
			// Grow by doubling, charged before it is allocated: a request
			// past the budget allocates nothing.
			grown := min(max(2*cap(req.params), len(req.params)+len(rec.content), 4<<10), maxParams)
			if c.srv.buffered.Add(int64(grown)-was) > c.srv.MaxParamsTotal {
				c.srv.buffered.Add(-int64(grown))
				req.busy, req.params = true, nil
				break
			}
			req.params = append(make([]byte, 0, grown), req.params...)
			fallthrough
		default:
			req.params = append(req.params, rec.content...)
		}
	case typeStdin:
		req := c.lookup(rec.id)
		if req == nil {
			return nil
		}
		if !req.started {
			return ErrBadRecord // STDIN before the end of PARAMS
		}
		req.body.write(rec.content)
	case typeData, typeEndRequest, typeStdout, typeStderr, typeGetValuesResult, typeUnknownType:
		// DATA belongs to the Filter role, which we refuse; the others
		// flow the other way. Neither needs an answer.
	default:
		var b [8]byte
		b[0] = rec.typ
		return c.send(appendRecord(nil, typeUnknownType, 0, b[:]))
	}
	return nil
}

func (c *conn) begin(rec record) error {
	if rec.id == 0 || len(rec.content) != 8 {
		return ErrBadRecord
	}
	role := Role(binary.BigEndian.Uint16(rec.content))
	keep := rec.content[2]&flagKeepConn != 0
	refuse := func(status uint8) error {
		if err := c.send(appendEndRequest(nil, rec.id, 0, status)); err != nil {
			return errClose
		}
		if !keep {
			return c.linger()
		}
		return nil
	}
	c.mu.Lock()
	_, dup := c.reqs[rec.id]
	c.mu.Unlock()
	switch {
	case dup:
		return ErrBadRecord
	case role != RoleResponder && role != RoleAuthorizer:
		return refuse(statusUnknownRole)
	case c.srv.tracked.ShuttingDown() || c.pending >= maxPending:
		// A web server sends one request's PARAMS right after its
		// BEGIN_REQUEST; a peer holding more pending than this is not one.
		return refuse(statusOverloaded)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	limits := c.srv.current().Limits.WithDefaults()
	req := &request{c: c, id: rec.id, role: role, keep: keep, ctx: ctx, cancel: cancel,
		body: newBody(limits.MaxBody, limits.ReadTimeout)}
	req.out = newOutStream(rec.id, c.send)
	c.mu.Lock()
	c.reqs[rec.id] = req
	c.mu.Unlock()
	c.pending++
	if c.pending == 1 {
		// Until its PARAMS end; an earlier pending request's deadline,
		// which is sooner, is kept.
		c.nc.SetReadDeadline(time.Now().Add(c.srv.paramsTimeout(limits)))
	}
	return nil
}

// paramsEnded is called once per request when its PARAMS end (or it is
// aborted before): with none pending, reads have no deadline again while
// requests run (a handler may stream for long while the web server has
// nothing to send).
func (c *conn) paramsEnded(req *request) {
	c.srv.buffered.Add(-int64(cap(req.params)))
	c.pending--
	if c.pending == 0 {
		c.nc.SetReadDeadline(time.Time{})
	}
}

// start runs the request once PARAMS has ended, not when STDIN arrives:
// mod_authnz_fcgi sends no STDIN at all.
func (c *conn) start(req *request) {
	req.started = true
	c.paramsEnded(req)
	var env map[string]string
	var err error
	switch {
	case req.tooBig:
		err = ErrParamsTooLarge
		c.srv.logLimit(c, "fastcgi: a request's PARAMS exceeded 1 MiB: answered 431")
	case req.busy:
		err = errParamsBudget
		c.srv.logLimit(c, "fastcgi: PARAMS buffered over all connections exceeded MaxParamsTotal: answered 503")
	case !c.srv.admit():
		err = errParamsBudget
		c.srv.logLimit(c, "fastcgi: MaxReqs requests running: answered 503")
	default:
		req.counted = true
		env, err = decodeParams(req.params)
	}
	req.params = nil
	if req.role == RoleAuthorizer {
		req.body.write(nil) // the Authorizer role has no body
	}
	c.wg.Add(1)
	go c.run(req, env, err)
}

func (c *conn) run(req *request, env map[string]string, perr error) {
	defer c.wg.Done()
	defer func() {
		if v := recover(); v != nil {
			c.srv.Log.Error().Interface("panic", v).Msg("fastcgi: request failed")
			c.nc.Close()
		}
	}()
	switch {
	case errors.Is(perr, ErrParamsTooLarge):
		writeStatus(req.out, http.StatusRequestHeaderFieldsTooLarge, nil)
	case errors.Is(perr, errParamsBudget):
		writeStatus(req.out, http.StatusServiceUnavailable, http.Header{"Retry-After": {"1"}})
	case perr != nil:
		c.srv.Log.Error().Err(perr).Msg("fastcgi: bad PARAMS")
		writeStatus(req.out, 500, nil)
	case req.role == RoleAuthorizer:
		c.srv.authorize(req, env)
	default:
		c.srv.respond(req, env)
	}
	req.body.close()
	if err := c.finish(req, statusRequestComplete); err != nil {
		c.nc.Close()
	}
}

// admit counts a request as running unless MaxReqs already are, in one
// compare-and-swap: concurrent connections can neither overshoot the limit
// nor be refused a slot that is free.
func (s *Server) admit() bool {
	for {
		n := s.reqs.Load()
		if n >= int64(s.MaxReqs) {
			return false
		}
		if s.reqs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// finish ends req with END_REQUEST. The id is freed first, so the web
// server may reuse it as soon as it reads END_REQUEST.
func (c *conn) finish(req *request, status uint8) error {
	req.cancel()
	c.mu.Lock()
	delete(c.reqs, req.id)
	if len(c.reqs) == 0 && req.keep && !c.draining.Load() {
		c.idle()
	}
	c.mu.Unlock()
	if req.counted {
		c.srv.reqs.Add(-1)
	}
	err := req.out.end(0, status)
	if err == nil && !req.keep {
		err = c.linger()
	}
	return err
}

// linger ends a connection without FCGI_KEEP_CONN. Closing it outright
// while the web server is still sending STDIN the handler did not read
// would make the kernel answer with a reset, which can destroy the response
// before the web server reads it. So only our side is shut; what still
// arrives is read and dropped until the web server closes, for at most a
// few seconds.
func (c *conn) linger() error {
	c.draining.Store(true)
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return errClose
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
	return nil
}

const lingerTimeout = 5 * time.Second

// getValues answers GET_VALUES with the variables we know, each once.
func (c *conn) getValues(content []byte) error {
	var out []byte
	var seen [3]bool
	err := pairs(content, func(name, _ []byte) error {
		var i int
		var v int
		switch string(name) {
		case "FCGI_MAX_CONNS":
			i, v = 0, c.srv.MaxConns
		case "FCGI_MAX_REQS":
			i, v = 1, c.srv.MaxReqs
		case "FCGI_MPXS_CONNS":
			i, v = 2, 1
		default:
			return nil
		}
		if !seen[i] {
			seen[i] = true
			out = appendPair(out, string(name), strconv.Itoa(v))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.send(appendRecord(nil, typeGetValuesResult, 0, out))
}
