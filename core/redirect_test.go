package core

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLocalRedirect(t *testing.T) {
	var seen []string
	to := func(target string) Handler {
		return HandlerFunc(func(r *Request) Status {
			seen = append(seen, r.Method+" "+r.URI)
			r.ResponseHeader.Set("X-Dropped", "1")
			if err := r.LocalRedirect(target); err != nil {
				return http.StatusInternalServerError
			}
			return Done
		})
	}
	show := HandlerFunc(func(r *Request) Status {
		seen = append(seen, r.Method+" "+r.URI)
		r.WriteString(r.Path + "?" + r.RawQuery + " kind " + string(rune('0'+r.Kind)))
		return OK
	})
	deny := HandlerFunc(func(r *Request) Status { return http.StatusUnauthorized })
	site := newSite(t,
		at("/a", map[Phase][]Handler{Content: {to("/b/x?q=1")}}),
		at("/b", map[Phase][]Handler{Content: {show}}),
		at("/guarded", map[Phase][]Handler{Authn: {deny}, Content: {show}}),
		at("/to-guarded", map[Phase][]Handler{Content: {to("/guarded/")}}),
		at("/loop", map[Phase][]Handler{Content: {to("/loop")}}),
		at("/bad", map[Phase][]Handler{Content: {to("http://elsewhere/")}}),
	)

	r, w := newReq("POST", "/a")
	r.Header.Set("Content-Type", "text/plain")
	site.Serve(r)
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, "/b/x?q=1 kind 2", w.Body.String())
	assert.Empty(t, w.Header().Get("X-Dropped"), "the first answer's headers do not carry over")
	assert.Equal(t, []string{"POST /a", "GET /b/x?q=1"}, seen)

	r, w = newReq("GET", "/to-guarded")
	site.Serve(r)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the new location's auth runs")

	seen = nil
	r, w = newReq("GET", "/loop")
	site.Serve(r)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Len(t, seen, maxLocalRedirects+1)

	r, w = newReq("GET", "/bad")
	site.Serve(r)
	assert.Equal(t, http.StatusInternalServerError, w.Code)

	require.ErrorIs(t, (&Request{}).LocalRedirect("relative"), ErrRedirectTarget)
}
