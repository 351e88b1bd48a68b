package bridge

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/wire"
)

// library is everything anyhost_init built for this Apache child: one
// handler per spec id, provider chains, and the site for AnyhostSite.
type library struct {
	apache   apache
	handlers []core.Handler
	chains   map[uint32][]core.PasswordProvider
	site     *core.Site
	slots    slots
	pool     sync.Pool
	rules    sync.Map // require line -> authn.Require
	panics   host.PanicLog
}

func newLibrary(h apache, specs []wire.Spec, serverRoot string) (*library, int, error) {
	lib := &library{apache: h, chains: map[uint32][]core.PasswordProvider{}}
	lib.pool.New = func() any { return newState(lib) }
	var errs []error
	sitePhases := 0
	for _, s := range specs {
		if int(s.ID) >= len(lib.handlers) {
			lib.handlers = append(lib.handlers, make([]core.Handler, int(s.ID)+1-len(lib.handlers))...)
		}
		switch s.Kind {
		case wire.SpecHandler:
			o := core.Options{Values: map[string]string{}, Dir: serverRoot}
			if s.Location != "" {
				o.Location = core.LocationPrefix(s.Location)
			}
			for _, kv := range s.Options {
				o.Values[kv[0]] = kv[1]
			}
			h, err := core.NewHandler(s.Name, o)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", directive(core.Phase(s.Phase)), s.Name, err))
				continue
			}
			lib.handlers[s.ID] = h
		case wire.SpecProvider:
			for _, kv := range s.Options {
				p, err := newProvider(kv[1], serverRoot)
				if err != nil {
					errs = append(errs, fmt.Errorf("AnyhostAuthnProvider %s: %w", s.Name, err))
					continue
				}
				lib.chains[s.ID] = append(lib.chains[s.ID], p)
			}
		case wire.SpecSite:
			site, err := loadSite(s.Name)
			if err != nil {
				errs = append(errs, fmt.Errorf("AnyhostSite: %w", err))
				// Every phase comes to Go, which answers 500 (the spec has
				// no handler): a phase C skipped would let Apache serve
				// the site's paths with none of its auth.
				sitePhases = 1<<core.NumPhases - 1
				continue
			}
			lib.site = site
			sitePhases = phaseMask(site)
		default:
			errs = append(errs, fmt.Errorf("spec %d: unknown kind %d", s.ID, s.Kind))
		}
	}
	return lib, sitePhases, errors.Join(errs...)
}

func directive(p core.Phase) string {
	return [...]string{"AnyhostPostReadRequestHandler", "AnyhostTransHandler", "AnyhostHeaderParserHandler",
		"AnyhostAccessHandler", "AnyhostAuthnHandler", "AnyhostAuthzHandler", "AnyhostFixupHandler",
		"AnyhostHandler", "AnyhostLogHandler"}[p]
}

// newProvider builds "name" or "name?key=value&key=value".
func newProvider(ref, dir string) (core.PasswordProvider, error) {
	name, query, _ := strings.Cut(ref, "?")
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("%s: options %q: %w", name, query, err)
	}
	o := core.Options{Values: map[string]string{}, Dir: dir}
	for k, v := range vals {
		o.Values[k] = v[len(v)-1]
	}
	return core.NewProvider(name, o)
}

func loadSite(path string) (*core.Site, error) {
	s, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return s.Build()
}

// phaseMask has a bit for each phase the site runs Go on. Under
// AnyhostSite the site's access, authn and authz phases all run from
// Apache's access hook, so they set the access bit.
func phaseMask(s *core.Site) int {
	mask := 0
	if len(s.PostReadRequest) > 0 {
		mask |= 1 << core.PostReadRequest
	}
	if len(s.Translate) > 0 {
		mask |= 1 << core.Translate
	}
	for _, l := range s.Locations() {
		for p, hs := range l.Handlers {
			if len(hs) == 0 || core.Phase(p).SiteOnly() {
				continue
			}
			switch core.Phase(p) {
			case core.Authn, core.Authz:
				mask |= 1 << core.Access
			default:
				mask |= 1 << p
			}
		}
	}
	return mask
}

func setMaxProcs(n int) {
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
}

// runPhase runs one Apache phase for st: the handlers given by id, or the
// site's for this phase.
func (lib *library) runPhase(st *reqState, phase core.Phase, ids []int32) core.Status {
	r := &st.req
	if lib.site != nil {
		return lib.runSite(st, phase)
	}
	st.handlers = st.handlers[:0]
	for _, id := range ids {
		if int(id) < 0 || int(id) >= len(lib.handlers) || lib.handlers[id] == nil {
			r.Log().Error().Int32("id", id).Msg("this handler failed to build when the child started: see the error log")
			return http.StatusInternalServerError
		}
		st.handlers = append(st.handlers, lib.handlers[id])
	}
	st2 := core.RunPhase(phase, st.handlers, r)
	return st2
}

func (lib *library) runSite(st *reqState, phase core.Phase) core.Status {
	r := &st.req
	s := lib.site
	if r.ContentLength > s.Limits.WithDefaults().MaxBody && phase != core.Log {
		// Refused in the first phase Go runs, before any handler reads
		// the body (so before Apache sends 100 Continue), as the other
		// hosts do; hand-written AnyhostSite configs have no
		// LimitRequestBody of their own.
		return http.StatusRequestEntityTooLarge
	}
	switch phase {
	case core.PostReadRequest:
		return core.RunPhase(phase, s.PostReadRequest, r)
	case core.Translate:
		return core.RunPhase(phase, s.Translate, r)
	case core.Access:
		return host.RunAuthPhases(s.Match(r.Path), r)
	case core.Authn, core.Authz:
		return core.Declined
	}
	return core.RunPhase(phase, s.Match(r.Path).Handlers[phase], r)
}

// checkPassword runs a provider chain as Apache's authn providers chain:
// user-not-found falls through, denied stops.
func (lib *library) checkPassword(st *reqState, id uint32, user, pass string) int {
	const (
		authDenied       = 0
		authGranted      = 1
		authUserNotFound = 3
		authError        = 4
	)
	r := &st.req
	chain, ok := lib.chains[id]
	if !ok {
		r.Log().Error().Uint32("id", id).Msg("bridge: no provider chain with this number")
		return authError
	}
	res, ident, err := authn.CheckChain(r.Context(), chain, user, pass)
	switch {
	case err != nil:
		r.Log().Error().Err(err).Msg("authentication back end failed")
		return authError
	case res == core.Granted:
		r.Identity = ident
		return authGranted
	case res == core.Denied:
		return authDenied
	}
	return authUserNotFound
}

// authorize evaluates a `Require anyhost RULE` line.
func (lib *library) authorize(st *reqState, line string) int {
	const (
		authzDenied       = 0
		authzGranted      = 1
		authzError        = 3
		authzDeniedNoUser = 4
	)
	r := &st.req
	if r.User == "" {
		return authzDeniedNoUser
	}
	rq, ok := lib.rules.Load(line)
	if !ok {
		parsed, err := authn.ParseRequire(line)
		if err != nil {
			r.Log().Error().Err(err).Str("require", line).Msg("Require anyhost")
			return authzError
		}
		rq, _ = lib.rules.LoadOrStore(line, parsed)
	}
	if r.Identity != nil && r.Identity.User != r.User {
		r.Identity = nil // established for another user: not ours to use
	}
	granted, err := rq.(authn.Require).Authorize(r)
	if err != nil {
		r.Log().Error().Err(err).Msg("authorization back end failed")
		return authzError
	}
	if granted {
		return authzGranted
	}
	return authzDenied
}
