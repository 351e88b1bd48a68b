package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/authn/bearer"
	"github.com/anyhost/anyhost/authn/store"
	"github.com/anyhost/anyhost/core"
)

// Build makes the core.Site a host runs: every handler and provider is looked
// up in the registry and built with its options, so an unknown name, a bad
// option or a missing file fails here, with the place in the site file.
func (s *Site) Build() (*core.Site, error) {
	var errs []error
	// What holds connections (pools of providers, stores) is closed with
	// the site, or here when the build fails.
	var closers []io.Closer
	closable := func(v any) {
		if c, ok := v.(io.Closer); ok {
			closers = append(closers, c)
		}
	}
	fail := func(pos Pos, err error) { errs = append(errs, &Error{pos, err.Error()}) }
	build := func(refs []HandlerRef, location string) []core.Handler {
		var hs []core.Handler
		for _, ref := range refs {
			h, err := core.NewHandler(ref.Name, core.Options{Values: ref.Options, Dir: s.Dir, Location: location})
			if err != nil {
				fail(ref.Pos, err)
				continue
			}
			closable(h)
			hs = append(hs, h)
		}
		return hs
	}
	shared, err := s.buildAuthShared()
	if err != nil {
		errs = append(errs, err)
	}
	if shared != nil {
		closable(shared.store)
	}
	postRead := build(s.SiteHandlers[core.PostReadRequest], "")
	translate := build(s.SiteHandlers[core.Translate], "")
	var locs []*core.Location
	for _, l := range s.Locations {
		loc := &core.Location{Prefix: l.Path}
		for ph := range core.NumPhases {
			loc.Handlers[ph] = build(l.Handlers[ph], core.LocationPrefix(l.Path))
		}
		if l.Auth != nil {
			authn, authz, err := s.buildAuth(l.Auth, shared, closable)
			if err != nil {
				errs = append(errs, err)
			} else {
				// Explicit handlers run first; FirstWins means one of
				// them returning OK or an error decides.
				loc.Handlers[core.Authn] = append(loc.Handlers[core.Authn], authn)
				loc.Handlers[core.Authz] = append(loc.Handlers[core.Authz], authz)
			}
		}
		locs = append(locs, loc)
	}
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	if len(errs) > 0 {
		closeAll()
		return nil, errors.Join(errs...)
	}
	site, err := core.NewSite(locs)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("%s: %w", s.File, err)
	}
	site.PostReadRequest, site.Translate, site.Limits = postRead, translate, s.Limits
	for _, c := range closers {
		site.OnClose(c)
	}
	return site, nil
}

// authShared is what every location's Basic auth shares: one store, one
// cache key, one throttle.
type authShared struct {
	store    store.Store
	cache    *basic.CredentialCache
	throttle *basic.Throttle
}

func (s *Site) buildAuthShared() (*authShared, error) {
	a := s.Auth
	if a == nil || (a.Cache == nil && a.Throttle == nil) {
		return nil, nil
	}
	// The secret first: a store that connects is built only for a site
	// that will be served.
	var secret []byte
	if c := a.Cache; c != nil {
		switch {
		case c.Secret != "":
			v, err := core.ResolveSecret(c.Secret, s.Dir)
			if err != nil {
				return nil, &Error{c.Pos, err.Error()}
			}
			if len(v) < 16 {
				return nil, &Error{c.Pos, "cache secret is shorter than 16 bytes: use e.g. `head -c 32 /dev/urandom | base64`"}
			}
			secret = []byte(v)
		case a.Store.Name != "memory":
			return nil, &Error{c.Pos, "a cache in a shared store needs secret = \"file:...\" or \"env:...\", the same on every host"}
		default:
			secret = make([]byte, 32)
			if _, err := rand.Read(secret); err != nil {
				return nil, err
			}
		}
	}
	st, err := store.New(a.Store.Name, core.Options{Values: a.Store.Options, Dir: s.Dir})
	if err != nil {
		return nil, &Error{a.Store.Pos, err.Error()}
	}
	sh := &authShared{store: st}
	if c := a.Cache; c != nil {
		sh.cache = &basic.CredentialCache{Store: st, Secret: secret, TTL: c.TTL}
	}
	if t := a.Throttle; t != nil {
		sh.throttle = &basic.Throttle{
			Store: st, MaxUser: t.MaxUser, MaxClient: t.MaxClient, Window: t.Window,
			Mode: t.Mode, Delay: t.Delay, FailOpen: t.FailOpen, Trusted: a.TrustedProxies,
		}
	}
	return sh, nil
}

// scope names a location's provider chain for the credential cache: the
// realm and each provider's name and options as written.
func scope(a *Auth) string {
	var b strings.Builder
	b.WriteString(a.Realm)
	for _, ref := range a.Providers {
		b.WriteString("\x00" + ref.Name)
		keys := make([]string, 0, len(ref.Options))
		for k := range ref.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b.WriteString("\x00" + k + "=" + ref.Options[k])
		}
	}
	return b.String()
}

func (s *Site) buildAuth(a *Auth, shared *authShared, closable func(any)) (core.Handler, core.Handler, error) {
	var errs []error
	ba := &basic.Basic{Realm: a.Realm}
	if shared != nil {
		if c := shared.cache; c != nil && !a.NoCache {
			ba.Cache = &basic.CredentialCache{Store: c.Store, Secret: c.Secret, TTL: c.TTL, Scope: scope(a)}
		}
		ba.Throttle = shared.throttle
	}
	be := &bearer.Bearer{Realm: a.Realm}
	for _, ref := range a.Providers {
		o := core.Options{Values: ref.Options, Dir: s.Dir}
		if a.Type == "bearer" {
			v, err := bearer.NewVerifier(ref.Name, o)
			if err != nil {
				errs = append(errs, &Error{ref.Pos, err.Error()})
				continue
			}
			closable(v)
			be.Verifiers = append(be.Verifiers, v)
			be.Names = append(be.Names, ref.Name)
			continue
		}
		p, err := core.NewProvider(ref.Name, o)
		if err != nil {
			errs = append(errs, &Error{ref.Pos, err.Error()})
			continue
		}
		closable(p)
		ba.Providers = append(ba.Providers, p)
		ba.Names = append(ba.Names, ref.Name)
	}
	var rules []core.Authorizer
	for _, r := range a.Require {
		rq, err := authn.ParseRequire(r)
		if err != nil {
			errs = append(errs, &Error{a.Pos, err.Error()})
			continue
		}
		rules = append(rules, rq)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	var auth core.Authenticator = ba
	if a.Type == "bearer" {
		auth = be
	}
	return authn.AuthnHandler(auth), authn.AuthzHandler(rules...), nil
}

// Check parses and builds the file at path, returning every problem.
func Check(path string) error {
	s, err := Load(path)
	if err != nil {
		return err
	}
	_, err = s.Build()
	return err
}
