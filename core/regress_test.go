package core

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Regression tests for findings of the first review.

func TestRedirectStatusKeepsLocation(t *testing.T) {
	for _, st := range []Status{http.StatusFound, http.StatusMovedPermanently, http.StatusCreated} {
		site := newSite(t, at("/", map[Phase][]Handler{Content: {HandlerFunc(func(r *Request) Status {
			r.ResponseHeader.Set("Location", "/elsewhere")
			r.ResponseHeader.Set("X-Dropped", "1")
			return st
		})}}))
		r, rec := newReq("GET", "/x")
		site.Serve(r)
		assert.Equal(t, int(st), rec.Code)
		assert.Equal(t, "/elsewhere", rec.Header().Get("Location"), "status %d", st)
		assert.Empty(t, rec.Header().Get("X-Dropped"), "other headers_out are dropped on the error path")
	}
	site := newSite(t, at("/", map[Phase][]Handler{Content: {HandlerFunc(func(r *Request) Status {
		r.ResponseHeader.Set("Location", "/elsewhere")
		return http.StatusForbidden
	})}}))
	r, rec := newReq("GET", "/x")
	site.Serve(r)
	assert.Empty(t, rec.Header().Get("Location"), "Location only survives redirects and 201")
}

func TestEnvSeesUserSetAfterFirstUse(t *testing.T) {
	r, _ := newReq("GET", "/x")
	r.Header.Set("Proxy-Authorization", "Basic eDp5")
	assert.Empty(t, r.Env()["REMOTE_USER"])
	assert.NotContains(t, r.Env(), "HTTP_PROXY_AUTHORIZATION")
	r.User, r.AuthType = "ann", "Basic"
	assert.Equal(t, "ann", r.Env()["REMOTE_USER"])
	assert.Equal(t, "Basic", r.Env()["AUTH_TYPE"])
}
