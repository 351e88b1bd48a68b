package host_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

// at builds a location with handlers per phase.
func at(prefix string, hs map[core.Phase][]core.Handler) *core.Location {
	l := &core.Location{Prefix: prefix}
	for p, h := range hs {
		l.Handlers[p] = h
	}
	return l
}

func TestRunAuthPhases(t *testing.T) {
	ok := core.HandlerFunc(func(r *core.Request) core.Status { r.User = "ann"; return core.OK })
	declined := core.HandlerFunc(func(*core.Request) core.Status { return core.Declined })
	forbidden := core.HandlerFunc(func(*core.Request) core.Status { return http.StatusForbidden })
	for _, c := range []struct {
		name string
		hs   map[core.Phase][]core.Handler
		want core.Status
	}{
		{"nothing configured", nil, core.Declined},
		{"all declined", map[core.Phase][]core.Handler{core.Access: {declined}, core.Authn: {declined}}, core.Declined},
		{"authn grants", map[core.Phase][]core.Handler{core.Access: {declined}, core.Authn: {ok}}, core.OK},
		{"access refuses first", map[core.Phase][]core.Handler{core.Access: {forbidden}, core.Authn: {ok}}, http.StatusForbidden},
		{"authz refuses", map[core.Phase][]core.Handler{core.Authn: {ok}, core.Authz: {forbidden}}, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := hosttest.NewRequest("GET", "/x", nil)
			assert.Equal(t, c.want, host.RunAuthPhases(at("/", c.hs), r))
		})
	}
	var w host.DiscardWriter
	w.Header().Set("X", "1")
	n, err := w.Write([]byte("dropped"))
	assert.NoError(t, err)
	assert.Equal(t, 7, n)
	assert.Equal(t, "1", w.Header().Get("X"))
}
