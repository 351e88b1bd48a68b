package core

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

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
	r.reset()
	assert.False(t, r.AuthChecked, "a pooled request starts unchecked")
}
