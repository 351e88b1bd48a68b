package host

import (
	"net/http"
	"sync/atomic"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/internal/link"
)

// SiteSlot holds the site a host serves while a reload (SIGHUP) swaps in
// another: requests that begin after Set see the new site, those in
// progress finish on the one they began with. The zero SiteSlot holds no
// site; Current then falls back to the host's configured one.
type SiteSlot struct{ p atomic.Pointer[core.Site] }

// Set replaces the site for requests that begin from now on. Safe while
// serving.
func (s *SiteSlot) Set(site *core.Site) { s.p.Store(site) }

// Current returns the site set last, or def if none was (or s is nil).
func (s *SiteSlot) Current(def *core.Site) *core.Site {
	if s == nil {
		return def
	}
	if site := s.p.Load(); site != nil {
		return site
	}
	return def
}

// RunAuthPhases runs a location's access, authn and authz phases as
// core.Site.Serve would, for hosts that check authorization apart from
// content (nginx's auth_request, FastCGI authorizers, Apache's access hook
// under AnyhostSite). It returns the status that ended them, else OK if any
// handler returned OK, else Declined; OK and Declined both mean "passed".
// A request with two sets of credentials is 400, as in Serve.
func RunAuthPhases(loc *core.Location, r *core.Request) core.Status {
	if st := link.Core.State(r); st.Panics == nil {
		st.Panics = link.Core.LocationPanics(loc)
	}
	link.Core.ObserveAt(r, loc)
	if link.DuplicateCredentials(r.Header) {
		return http.StatusBadRequest
	}
	outcome := core.Declined
	for _, p := range [...]core.Phase{core.Access, core.Authn, core.Authz} {
		switch st := core.RunPhase(p, loc.Handlers[p], r); st {
		case core.OK:
			outcome = core.OK
		case core.Declined:
		default:
			return st
		}
	}
	return outcome
}
