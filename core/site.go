package core

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/anyhost/anyhost/core/internal/link"
)

// Limits bound what a client may send and how long it may take. One setting
// applies on every host: standalone enforces them itself; the Apache and
// nginx configuration generators translate them. Zero means the default.
type Limits struct {
	// MaxBody is the largest request body accepted, in bytes. Default 10 MiB.
	MaxBody int64
	// MaxHeader is the largest request header block, in bytes. Default 64 KiB.
	MaxHeader int
	// ReadHeaderTimeout bounds reading the request line and headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request. Default 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing the response. Default 0: none, so
	// streaming responses may run long.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for the next
	// request. Default 120s.
	IdleTimeout time.Duration
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxBody == 0 {
		l.MaxBody = 10 << 20
	}
	if l.MaxHeader == 0 {
		l.MaxHeader = 64 << 10
	}
	if l.ReadHeaderTimeout == 0 {
		l.ReadHeaderTimeout = 10 * time.Second
	}
	if l.ReadTimeout == 0 {
		l.ReadTimeout = 60 * time.Second
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = 120 * time.Second
	}
	return l
}

// Site is a whole site's handlers: the site-wide phases and the locations.
// It runs every phase itself, which is what standalone, FastCGI and CGI hosts
// do; Apache runs phases from its own hooks using Match and RunPhase.
type Site struct {
	// PostReadRequest and Translate run before any location is matched.
	PostReadRequest []Handler
	Translate       []Handler
	// Limits apply to every request.
	Limits Limits

	locations []*Location // longest prefix first
	closers   []io.Closer
	panics    link.PanicLog
	observer  Observer // from SetObserver
}

// OnClose registers what Close releases: the connection pools of the
// providers and stores the site was built with.
func (s *Site) OnClose(c io.Closer) { s.closers = append(s.closers, c) }

// Close releases what the site holds (LDAP, SQL and Redis pools). A host
// calls it once no request uses the site any more: at exit, or a grace
// period after a reload replaced it.
func (s *Site) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// NewSite builds a site from its locations. A location inherits, phase by
// phase, the handlers of the nearest enclosing location when it sets none of
// its own, as Apache merges per-directory configuration; a location with
// handlers for a phase replaces the enclosing ones. A "/" location is added
// if missing, with no handlers.
func NewSite(locs []*Location) (*Site, error) {
	seen := map[string]bool{}
	var all []*Location
	for _, l := range locs {
		if l.Prefix == "" || l.Prefix[0] != '/' {
			return nil, fmt.Errorf("location %q: prefix must start with /", l.Prefix)
		}
		key := LocationPrefix(l.Prefix)
		if seen[key] {
			return nil, fmt.Errorf("location %q: duplicate location", l.Prefix)
		}
		seen[key] = true
		c := *l
		c.Prefix = key
		all = append(all, &c)
	}
	if !seen["/"] {
		all = append(all, &Location{Prefix: "/"})
	}
	sort.SliceStable(all, func(i, j int) bool { return len(all[i].Prefix) > len(all[j].Prefix) })
	site := &Site{locations: all}
	for i, l := range all {
		l.panics, l.site = &site.panics, site
		for p := range l.Handlers {
			if Phase(p).SiteOnly() {
				l.Handlers[p] = nil
				continue
			}
			if l.Handlers[p] != nil {
				continue
			}
			for _, outer := range all[i+1:] {
				if outer.Matches(l.Prefix) && outer.Handlers[p] != nil {
					l.Handlers[p] = outer.Handlers[p]
					break
				}
			}
		}
	}
	return site, nil
}

// Locations returns the locations, longest prefix first.
func (s *Site) Locations() []*Location { return s.locations }

// Match returns the location for a cleaned path; never nil.
func (s *Site) Match(path string) *Location {
	for _, l := range s.locations {
		if l.Matches(path) {
			return l
		}
	}
	return s.locations[len(s.locations)-1]
}

// Serve runs every phase for r: post-read-request, translate, then the
// matched location's phases through content, and log last, always. An HTTP
// status from any phase but log ends the request with that status through
// the error path (headers_out dropped, err_headers_out kept). If all content
// handlers decline the answer is 404.
//
// With r.AuthChecked the access, authn and authz phases are skipped, unless
// post-read-request or translate moved the request to another location
// than the one its path matched when it arrived: the web server checked
// that one, not this.
func (s *Site) Serve(r *Request) {
	if r.st.Panics == nil {
		r.st.Panics = &s.panics
	}
	var began time.Time
	if r.observer = s.observer; r.observer != nil {
		began = time.Now()
		r.observer.Begin()
	}
	st, loc := s.run(r, true)
	for hops := 0; r.st.Redirect != "" && !r.st.Started; hops++ {
		if hops == maxLocalRedirects {
			r.Log().Error().Str("uri", r.URI).Int("hops", hops).Msg("too many local redirects")
			st = http.StatusInternalServerError
			break
		}
		if err := r.followRedirect(); err != nil {
			r.Log().Error().Err(err).Str("uri", r.URI).Msg("bad local redirect")
			st = http.StatusInternalServerError
			break
		}
		st, loc = s.run(r, false)
	}
	if st.IsHTTP() {
		if r.st.Started && !r.retract() {
			if st >= 400 {
				r.Log().Warn().Int("status", int(st)).Str("uri", r.URI).Msg("error status after the response started; cannot send it")
			}
		} else {
			r.sendError(int(st))
		}
	}
	if !r.st.Started {
		r.start()
	}
	decided := Phase(r.st.Phase)
	RunPhase(Log, loc.Handlers[Log], r)
	if r.observer != nil {
		r.observer.Finish(loc.Prefix, decided, r.StatusCode(), time.Since(began))
	}
}

// maxLocalRedirects bounds the local redirects one request may take, as
// Apache's LimitInternalRecursion does (default 10).
const maxLocalRedirects = 10

// run runs the phases before log; post-read-request only for the request
// as it arrived, not for a local redirect (as Apache's internal redirects).
func (s *Site) run(r *Request, arrived bool) (Status, *Location) {
	if link.DuplicateCredentials(r.Header) {
		r.Log().Info().Str("uri", r.URI).Msg("request with more than one Authorization header refused")
		return http.StatusBadRequest, s.Match(r.Path)
	}
	var checked *Location
	if r.AuthChecked {
		checked = s.Match(r.Path)
	}
	if arrived {
		if st := RunPhase(PostReadRequest, s.PostReadRequest, r); ends(st) {
			return st, s.Match(r.Path)
		}
	}
	if st := RunPhase(Translate, s.Translate, r); st != OK && st != Declined {
		return st, s.Match(r.Path)
	}
	loc := s.Match(r.Path)
	for p := HeaderParser; p <= Content; p++ {
		if checked == loc && p >= Access && p <= Authz {
			continue
		}
		st := RunPhase(p, loc.Handlers[p], r)
		if ends(st) {
			return st, loc
		}
		if p == Content && st == Declined {
			return http.StatusNotFound, loc
		}
	}
	return OK, loc
}

func ends(st Status) bool { return st != OK && st != Declined }
