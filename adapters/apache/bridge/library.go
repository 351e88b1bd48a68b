package bridge

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/inproc"
	"github.com/anyhost/anyhost/internal/wire"
)

// library is everything anyhost_init built for this Apache child: one
// handler per spec id, provider chains, and the site for AnyhostSite.
type library struct {
	*inproc.Library
	apache apache
	chains map[uint32][]core.PasswordProvider
	slots  inproc.Slots[reqState]
	pool   sync.Pool
	rules  sync.Map // require line -> authn.Require
	panics host.PanicLog
}

func newLibrary(h apache, specs []wire.Spec, serverRoot string) (*library, int, error) {
	lib := &library{apache: h, chains: map[uint32][]core.PasswordProvider{}}
	lib.pool.New = func() any { return newState(lib) }
	built, mask, err := inproc.Build(specs, serverRoot, inproc.Directives{Phase: directive, Site: "AnyhostSite"},
		func(s wire.Spec) error { return lib.addChain(s, serverRoot) })
	lib.Library = built
	return lib, mask, err
}

// addChain builds an AnyhostAuthnProvider chain.
func (lib *library) addChain(s wire.Spec, serverRoot string) error {
	if s.Kind != wire.SpecProvider {
		return fmt.Errorf("spec %d: unknown kind %d", s.ID, s.Kind)
	}
	var errs []error
	for _, kv := range s.Options {
		p, err := newProvider(kv[1], serverRoot)
		if err != nil {
			errs = append(errs, fmt.Errorf("AnyhostAuthnProvider %s: %w", s.Name, err))
			continue
		}
		lib.chains[s.ID] = append(lib.chains[s.ID], p)
	}
	return errors.Join(errs...)
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

// runPhase runs one Apache phase for st: the handlers given by id, or the
// site's for this phase.
func (lib *library) runPhase(st *reqState, phase core.Phase, ids []int32) core.Status {
	job := lib.Plan(phase, &st.req, ids, &st.handlers)
	return job.Run(&st.req)
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
	res, ident, err := authn.CheckChain(r.Context(), chain, user, pass, nil)
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
