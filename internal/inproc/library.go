// Package inproc is what the in-process bridges (Apache's mod_anyhost and
// nginx's module) share: the handlers built from the spec table their C
// side sends when a child or worker starts, the plan of which handlers a
// phase runs for a request, and the mapping of log levels.
package inproc

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/anyhost/anyhost/config"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/wire"
)

// Library is what one child or worker built: a handler per spec id, and
// the site of AnyhostSite / anyhost_site.
type Library struct {
	handlers []core.Handler
	// Site is the site of AnyhostSite / anyhost_site, if any.
	Site *core.Site
	// siteFailed: a site was configured and did not build. Every phase
	// then answers 500 rather than let the host serve its paths bare.
	siteFailed bool
	siteID     int32 // the site's spec id, or -1
}

// Directives name the host's directives in error messages.
type Directives struct {
	Phase func(core.Phase) string // a phase's handler directive
	Site  string                  // the site directive
}

// Build builds the handler and site specs. Other kinds go to other (nil:
// they are errors).
// The mask has a bit for each phase the site runs Go on; its access, authn
// and authz phases all run from the host's access hook, so they set the
// access bit. When specs fail the library still serves: only requests that
// reach a handler that failed get 500.
func Build(specs []wire.Spec, serverRoot string, names Directives, other func(wire.Spec) error) (*Library, int, error) {
	lib := &Library{siteID: -1}
	var errs []error
	mask := 0
	for _, s := range specs {
		if int(s.ID) >= len(lib.handlers) {
			lib.handlers = append(lib.handlers, make([]core.Handler, int(s.ID)+1-len(lib.handlers))...)
		}
		switch {
		case s.Kind == wire.SpecHandler:
			o := core.Options{Values: map[string]string{}, Dir: serverRoot}
			if s.Location != "" {
				o.Location = core.LocationPrefix(s.Location)
			}
			for _, kv := range s.Options {
				o.Values[kv[0]] = kv[1]
			}
			h, err := core.NewHandler(s.Name, o)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", names.Phase(core.Phase(s.Phase)), s.Name, err))
				continue
			}
			lib.handlers[s.ID] = h
		case s.Kind == wire.SpecSite:
			lib.siteID = int32(s.ID)
			site, err := loadSite(s.Name)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", names.Site, err))
				// Every phase comes to Go, which answers 500 (there is no
				// site): a phase the host skipped would let it serve the
				// site's paths with none of its auth.
				mask = 1<<core.NumPhases - 1
				lib.siteFailed = true
				continue
			}
			lib.Site = site
			mask = phaseMask(site)
		case other != nil:
			if err := other(s); err != nil {
				errs = append(errs, err)
			}
		default:
			errs = append(errs, fmt.Errorf("spec %d: unknown kind %d", s.ID, s.Kind))
		}
	}
	return lib, mask, errors.Join(errs...)
}

func loadSite(path string) (*core.Site, error) {
	s, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return s.Build()
}

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

// Job is what one phase runs for a request, decided before it runs, so
// that a host whose phases are asynchronous can skip a phase with nothing
// on it without starting anything.
type Job struct {
	phase    core.Phase
	handlers []core.Handler
	auth     *core.Location // the site's access, authn and authz, run together
	status   core.Status    // the answer when nothing runs
	runs     bool
}

// Runs says the job runs handlers; else Status is the phase's answer.
func (j *Job) Runs() bool { return j.runs }

// Status is the answer of a job that runs nothing.
func (j *Job) Status() core.Status { return j.status }

// Run runs the job's handlers for r.
func (j *Job) Run(r *core.Request) core.Status {
	if !j.runs {
		return j.status
	}
	if j.auth != nil {
		return host.RunAuthPhases(j.auth, r)
	}
	return core.RunPhase(j.phase, j.handlers, r)
}

// Plan decides what phase runs for r: the handlers given by spec id, or
// the site's for this phase (no ids, or the site's own spec id). buf is
// reused for the handler list (and grown in place).
func (lib *Library) Plan(phase core.Phase, r *core.Request, ids []int32, buf *[]core.Handler) Job {
	if lib.siteID >= 0 && (len(ids) == 0 || len(ids) == 1 && ids[0] == lib.siteID) {
		if lib.siteFailed {
			r.Log().Error().Msg("the site failed to build when this process started: see the error log")
			return Job{status: http.StatusInternalServerError}
		}
		return lib.planSite(phase, r)
	}
	hs := (*buf)[:0]
	for _, id := range ids {
		if int(id) < 0 || int(id) >= len(lib.handlers) || lib.handlers[id] == nil {
			r.Log().Error().Int32("id", id).Msg("this handler failed to build when the process started: see the error log")
			return Job{status: http.StatusInternalServerError}
		}
		hs = append(hs, lib.handlers[id])
	}
	*buf = hs
	return Job{phase: phase, handlers: hs, status: core.Declined, runs: len(hs) > 0}
}

// SiteNeeds reports whether phase could run anything, or answer other than
// Declined, for a request with this path (as nginx has it) and body
// length: a host asks it before packing a request for the site, and
// skips the phase on false. It decides as planSite does.
func (lib *Library) SiteNeeds(phase core.Phase, path string, contentLength int64) bool {
	s := lib.Site
	switch {
	case lib.siteID < 0:
		return false
	case lib.siteFailed:
		return true // every phase answers 500
	case contentLength > s.Limits.WithDefaults().MaxBody && phase != core.Log:
		return true // 413
	}
	switch phase {
	case core.PostReadRequest:
		return len(s.PostReadRequest) > 0
	case core.Translate:
		return len(s.Translate) > 0
	case core.Authn, core.Authz:
		return false
	}
	loc := s.Match(core.CleanPath(path))
	if phase == core.Access {
		return len(loc.Handlers[core.Access])+len(loc.Handlers[core.Authn])+len(loc.Handlers[core.Authz]) > 0
	}
	return len(loc.Handlers[phase]) > 0
}

func (lib *Library) planSite(phase core.Phase, r *core.Request) Job {
	s := lib.Site
	if r.ContentLength > s.Limits.WithDefaults().MaxBody && phase != core.Log {
		// Refused in the first phase Go runs, before any handler reads
		// the body (so before the host sends 100 Continue), as the other
		// hosts do.
		return Job{status: http.StatusRequestEntityTooLarge}
	}
	var hs []core.Handler
	switch phase {
	case core.PostReadRequest:
		hs = s.PostReadRequest
	case core.Translate:
		hs = s.Translate
	case core.Access:
		loc := s.Match(r.Path)
		if len(loc.Handlers[core.Access])+len(loc.Handlers[core.Authn])+len(loc.Handlers[core.Authz]) == 0 {
			return Job{status: core.Declined}
		}
		return Job{phase: phase, auth: loc, runs: true}
	case core.Authn, core.Authz:
		return Job{status: core.Declined} // run with access
	default:
		hs = s.Match(r.Path).Handlers[phase]
	}
	return Job{phase: phase, handlers: hs, status: core.Declined, runs: len(hs) > 0}
}
