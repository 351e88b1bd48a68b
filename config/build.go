package config

import (
	"errors"
	"fmt"

	"github.com/anyhost/anyhost/core"
)

// Build makes the core.Site a host runs: every handler and provider is looked
// up in the registry and built with its options, so an unknown name, a bad
// option or a missing file fails here, with the place in the site file.
func (s *Site) Build() (*core.Site, error) {
	var errs []error
	fail := func(pos Pos, err error) { errs = append(errs, &Error{pos, err.Error()}) }
	build := func(refs []HandlerRef) []core.Handler {
		var hs []core.Handler
		for _, ref := range refs {
			h, err := core.NewHandler(ref.Name, core.Options{Values: ref.Options, Dir: s.Dir})
			if err != nil {
				fail(ref.Pos, err)
				continue
			}
			hs = append(hs, h)
		}
		return hs
	}
	postRead := build(s.SiteHandlers[core.PostReadRequest])
	translate := build(s.SiteHandlers[core.Translate])
	var locs []*core.Location
	for _, l := range s.Locations {
		loc := &core.Location{Prefix: l.Path}
		for ph := range core.NumPhases {
			loc.Handlers[ph] = build(l.Handlers[ph])
		}
		if l.Auth != nil {
			authn, authz, err := s.buildAuth(l.Auth)
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
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	site, err := core.NewSite(locs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.File, err)
	}
	site.PostReadRequest, site.Translate, site.Limits = postRead, translate, s.Limits
	return site, nil
}

func (s *Site) buildAuth(a *Auth) (core.Handler, core.Handler, error) {
	var errs []error
	basic := &core.Basic{Realm: a.Realm}
	bearer := &core.Bearer{Realm: a.Realm}
	for _, ref := range a.Providers {
		o := core.Options{Values: ref.Options, Dir: s.Dir}
		if a.Type == "bearer" {
			v, err := core.NewVerifier(ref.Name, o)
			if err != nil {
				errs = append(errs, &Error{ref.Pos, err.Error()})
				continue
			}
			bearer.Verifiers = append(bearer.Verifiers, v)
			continue
		}
		p, err := core.NewProvider(ref.Name, o)
		if err != nil {
			errs = append(errs, &Error{ref.Pos, err.Error()})
			continue
		}
		basic.Providers = append(basic.Providers, p)
	}
	var rules []core.Authorizer
	for _, r := range a.Require {
		rq, err := core.ParseRequire(r)
		if err != nil {
			errs = append(errs, &Error{a.Pos, err.Error()})
			continue
		}
		rules = append(rules, rq)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	var authn core.Authenticator = basic
	if a.Type == "bearer" {
		authn = bearer
	}
	return core.AuthnHandler(authn), core.AuthzHandler(rules...), nil
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
