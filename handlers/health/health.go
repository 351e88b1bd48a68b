// Package health is a content handler for load balancers and orchestrators:
// GET or HEAD answers 200 "ok" as long as the host serves requests, never
// cached, with no body for HEAD. It checks nothing behind the site (a
// back end that is down fails the requests that need it, not the probe),
// so a balancer drains a host only when the host itself is gone.
package health

import (
	"net/http"

	"github.com/anyhost/anyhost/core"
)

func init() {
	core.Register("health", "200 \"ok\" for load balancers' probes (GET, HEAD)", New)
}

// New builds the handler; it takes no options.
func New(o core.Options) (core.Handler, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	return core.HandlerFunc(handle), nil
}

func handle(r *core.Request) core.Status {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		r.ErrHeader().Set("Allow", "GET, HEAD")
		return http.StatusMethodNotAllowed
	}
	r.ResponseHeader.Set("Content-Type", "text/plain; charset=utf-8")
	r.ResponseHeader.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		r.Write(nil)
		return core.OK
	}
	r.WriteString("ok\n")
	return core.OK
}
