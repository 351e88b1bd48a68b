package core

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunAuthPhases(t *testing.T) {
	ok := HandlerFunc(func(r *Request) Status { r.User = "ann"; return OK })
	declined := HandlerFunc(func(*Request) Status { return Declined })
	forbidden := HandlerFunc(func(*Request) Status { return http.StatusForbidden })
	for _, c := range []struct {
		name string
		hs   map[Phase][]Handler
		want Status
	}{
		{"nothing configured", nil, Declined},
		{"all declined", map[Phase][]Handler{Access: {declined}, Authn: {declined}}, Declined},
		{"authn grants", map[Phase][]Handler{Access: {declined}, Authn: {ok}}, OK},
		{"access refuses first", map[Phase][]Handler{Access: {forbidden}, Authn: {ok}}, http.StatusForbidden},
		{"authz refuses", map[Phase][]Handler{Authn: {ok}, Authz: {forbidden}}, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := newReq("GET", "/x")
			assert.Equal(t, c.want, RunAuthPhases(at("/", c.hs), r))
		})
	}
	var w DiscardWriter
	w.Header().Set("X", "1")
	n, err := w.Write([]byte("dropped"))
	assert.NoError(t, err)
	assert.Equal(t, 7, n)
	assert.Equal(t, "1", w.Header().Get("X"))
}

// AuthChecked: the host's web server ran the auth phases already, so Serve
// skips them, except when translate moved the request to another location.
func TestServeSkipsCheckedAuthPhases(t *testing.T) {
	var ran []string
	rec := func(name string, st Status) Handler {
		return HandlerFunc(func(r *Request) Status { ran = append(ran, name); return st })
	}
	private := at("/private", map[Phase][]Handler{
		HeaderParser: {rec("header-parser", Declined)},
		Access:       {rec("access", Declined)},
		Authn:        {rec("authn", http.StatusUnauthorized)},
		Authz:        {rec("authz", OK)},
		Fixup:        {rec("fixup", Declined)},
		Content:      {rec("content", OK)},
	})
	other := at("/other", map[Phase][]Handler{
		Authn:   {rec("other-authn", http.StatusUnauthorized)},
		Content: {rec("other-content", OK)},
	})
	site := newSite(t, private, other)
	site.Translate = []Handler{HandlerFunc(func(r *Request) Status {
		if r.Path == "/private/moved" {
			r.Path = "/other"
		}
		return Declined
	})}
	for _, c := range []struct {
		path    string
		checked bool
		want    []string
		status  int
	}{
		{"/private/x", true, []string{"header-parser", "fixup", "content"}, 200},
		{"/private/x", false, []string{"header-parser", "access", "authn"}, 401},
		{"/private/moved", true, []string{"other-authn"}, 401},
	} {
		ran = nil
		r, w := newReq("GET", c.path)
		r.AuthChecked = c.checked
		site.Serve(r)
		assert.Equal(t, c.want, ran, "%s checked=%v", c.path, c.checked)
		assert.Equal(t, c.status, w.Code, "%s checked=%v", c.path, c.checked)
	}
	r := &Request{AuthChecked: true}
	r.Reset()
	assert.False(t, r.AuthChecked, "a pooled request starts unchecked")
}
