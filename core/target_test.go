package core

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Regression (security review): the net/http bridge parsed RequestURI, so
// a site mounted under http.StripPrefix matched the unstripped path: /app/
// admin/x fell to "/" and skipped /admin's auth. The site matches the URL
// it is handed.
func TestSiteUnderStripPrefix(t *testing.T) {
	deny := HandlerFunc(func(*Request) Status { return 401 })
	hello := HandlerFunc(func(r *Request) Status { r.WriteString("content for " + r.Path); return OK })
	site := newSite(t,
		&Location{Prefix: "/admin", Handlers: [NumPhases][]Handler{Access: {deny}, Content: {hello}}},
		&Location{Prefix: "/", Handlers: [NumPhases][]Handler{Content: {hello}}})
	h := http.StripPrefix("/app", site)
	for target, want := range map[string]int{"/app/admin/x": 401, "/app/x/../admin/x": 401, "/app//admin/": 401, "/app/other": 200} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		assert.Equal(t, want, w.Code, target)
	}
}
