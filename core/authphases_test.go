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
