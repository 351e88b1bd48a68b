package core

import (
	"fmt"
	"net/http"
	"reflect"
	"runtime/debug"
)

// Handler handles one phase of a request. What it returns decides what
// happens next; see Status and Phase.Stacking.
type Handler interface {
	Handle(r *Request) Status
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request) Status

// Handle calls f(r).
func (f HandlerFunc) Handle(r *Request) Status { return f(r) }

// RunPhase runs the handlers stacked on phase p by the phase's stacking rule
// and returns the phase's outcome:
//
//   - RunAll: handlers run in order until one returns something other than
//     OK or Declined, which is the outcome; otherwise OK if any handler
//     returned OK, else Declined.
//   - FirstWins: handlers run until one returns something other than
//     Declined, which is the outcome; all Declined gives Declined. In the
//     authn phase an OK that leaves r.User empty becomes 500: a handler
//     that says "authenticated" must say who.
//   - Always: every handler runs; the outcome is OK.
//
// A handler that panics is logged with its stack and counts as 500; the host
// keeps running. A status that is neither a verdict nor an HTTP code is
// logged and counts as 500.
func RunPhase(p Phase, hs []Handler, r *Request) Status {
	r.st.Phase = int(p)
	outcome := Declined
	for _, h := range hs {
		st := call(h, r)
		switch p.Stacking() {
		case Always:
			continue
		case FirstWins:
			if st == Declined {
				continue
			}
			if p == Authn && st == OK && r.User == "" {
				r.Log().Error().Str("phase", p.String()).Msg("authn handler returned OK without setting a user")
				return http.StatusInternalServerError
			}
			return st
		default:
			switch st {
			case OK:
				outcome = OK
			case Declined:
			default:
				return st
			}
		}
	}
	if p.Stacking() == Always {
		return OK
	}
	return outcome
}

func call(h Handler, r *Request) (st Status) {
	defer func() {
		if v := recover(); v != nil {
			r.logPanic(h, v)
			st = http.StatusInternalServerError
		}
	}()
	st = h.Handle(r)
	if st != OK && st != Declined && st != Done && !st.IsHTTP() {
		r.Log().Error().Str("phase", r.Phase().String()).Int("status", int(st)).Msg("handler returned an invalid status")
		return http.StatusInternalServerError
	}
	return st
}

// logPanic logs a handler's panic: with its stack the first times, then
// (the PanicLog a host or Site gives) as a count at a bounded rate, so a handler that panics on
// every request cannot fill the disk (2.3 KB a stack, 600 MB in 20 s).
func (r *Request) logPanic(h Handler, v any) {
	full, unlogged := true, 0
	if r.st.Panics != nil {
		var ok bool
		if ok, full, unlogged = r.st.Panics.Note(handlerID(h)); !ok {
			return
		}
	}
	e := r.Log().Error().Str("phase", r.Phase().String()).Str("uri", r.URI).Str("panic", fmt.Sprint(v))
	if full {
		e.Bytes("stack", debug.Stack()).Msg("handler panicked")
		return
	}
	e.Int("panics_not_logged", unlogged).Msg("handler panicked again (its stack was logged before)")
}

// handlerID names a handler for its PanicLog: its type and, for functions and
// pointers, its code or address (every HandlerFunc has the same type).
func handlerID(h Handler) string {
	v := reflect.ValueOf(h)
	switch v.Kind() {
	case reflect.Func, reflect.Pointer:
		return fmt.Sprintf("%T@%x", h, v.Pointer())
	}
	return fmt.Sprintf("%T", h)
}
