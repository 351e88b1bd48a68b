package demo

import (
	"net/http"

	"github.com/anyhost/anyhost/core"
)

// newMux is a plain net/http ServeMux run as content through
// core.FromHTTPHandler, the way an existing net/http application is
// mounted: it routes on r.HTTPRequest().URL.Path, so tests can check that
// the path it routes on is the path the auth phases were decided on.
func newMux(o core.Options) (core.Handler, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("admin area: " + req.URL.Path))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("mux root: " + req.URL.Path))
	})
	return core.FromHTTPHandler(mux), nil
}
