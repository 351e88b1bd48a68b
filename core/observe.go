package core

import "time"

// An Observer is told what happened to each request a site serves, for a
// host's metrics: the request's outcome from Site.Serve, and from the auth
// handlers what only they know (which provider answered, cache hits,
// throttle refusals). It is an interface so that core and the handler
// libraries Apache and nginx load stay free of any metrics library: only
// the binaries that serve with metrics on link one in.
//
// Its methods are called on the request's goroutine, concurrently for
// different requests, and must not block. Nothing passed to them names a
// user: label values stay few, and metrics never hold personal data.
type Observer interface {
	// Begin is called when Site.Serve starts a request; Finish when its
	// log phase has run, with the prefix of the location it ended in,
	// the phase that decided its status (Content for a normal answer),
	// the status sent and the time since Begin.
	Begin()
	Finish(location string, decided Phase, status int, took time.Duration)
	// Auth is one answer of a password provider or token verifier, by
	// its registered name: result is "granted", "denied", "not_found"
	// (the provider does not know the user) or "error". Concurrent
	// requests that share one check (Basic's credential cache) count one.
	Auth(provider, result string)
	// CredentialCache is one look-up in the credential cache.
	CredentialCache(hit bool)
	// Throttled is one login refused (429) or slowed down by the
	// failed-attempt throttle.
	Throttled(refused bool)
}

// SetObserver makes every request the site serves from now on report to o;
// nil stops it. Hosts call it before serving, and on the site a reload
// builds before swapping it in.
func (s *Site) SetObserver(o Observer) { s.observer = o }

// Observer returns what the request reports to (the site's observer), or
// one that drops everything when the host keeps no metrics; never nil.
func (r *Request) Observer() Observer {
	if r.observer == nil {
		return nopObserver{}
	}
	return r.observer
}

type nopObserver struct{}

func (nopObserver) Begin()                                   {}
func (nopObserver) Finish(string, Phase, int, time.Duration) {}
func (nopObserver) Auth(string, string)                      {}
func (nopObserver) CredentialCache(bool)                     {}
func (nopObserver) Throttled(bool)                           {}
