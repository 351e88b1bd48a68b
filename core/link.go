package core

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core/internal/link"
)

// The operations core/host offers hosts (binding, pooling, the net/http
// bridge) are core's own code; this hands them over.
func init() {
	link.Core.State = func(r any) *link.State { return &r.(*Request).st }
	link.Core.Bind = func(r any, w http.ResponseWriter, ctx context.Context, log *zerolog.Logger) {
		r.(*Request).bind(w, ctx, log)
	}
	link.Core.Reset = func(r any) { r.(*Request).reset() }
	link.Core.ServeHTTP = func(site any, w http.ResponseWriter, req *http.Request, adapter string, log *zerolog.Logger, done any, began time.Time) {
		d, _ := done.(func(*Request, time.Time))
		site.(*Site).serveHTTP(w, req, adapter, log, d, began)
	}
	link.Core.LocationPanics = func(loc any) *link.PanicLog { return loc.(*Location).panics }
	link.Core.ObserveAt = func(r, loc any) {
		if site := loc.(*Location).site; site != nil {
			r.(*Request).observer = site.observer
		}
	}
}

// bind prepares r to send its response through w.
func (r *Request) bind(w http.ResponseWriter, ctx context.Context, log *zerolog.Logger) {
	r.st.W, r.st.Ctx, r.st.Log = w, ctx, log
	r.ResponseHeader = w.Header()
}

// reset clears r for reuse by a pool, keeping allocated maps.
func (r *Request) reset() {
	eh, n := r.st.ErrHeader, r.st.Notes
	clear(eh)
	clear(n)
	*r = Request{}
	r.st.ErrHeader, r.st.Notes = eh, n
}
