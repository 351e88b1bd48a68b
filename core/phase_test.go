package core

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		st     Status
		isHTTP bool
		str    string
	}{
		{OK, false, "OK"},
		{Declined, false, "DECLINED"},
		{Done, false, "DONE"},
		{200, true, "200 OK"},
		{404, true, "404 Not Found"},
		{100, true, "100 Continue"},
		{599, true, "599"},
		{99, false, "Status(99)"},
		{600, false, "Status(600)"},
		{42, false, "Status(42)"},
		{-3, false, "Status(-3)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(int(tt.st)), func(t *testing.T) {
			assert.Equal(t, tt.isHTTP, tt.st.IsHTTP())
			assert.Equal(t, tt.str, tt.st.String())
		})
	}
	// The verdicts keep mod_python's values.
	assert.Equal(t, 0, int(OK))
	assert.Equal(t, -1, int(Declined))
	assert.Equal(t, -2, int(Done))
}

func TestPhaseNamesAndRules(t *testing.T) {
	tests := []struct {
		p        Phase
		name     string
		siteOnly bool
		stacking Stacking
	}{
		{PostReadRequest, "post-read-request", true, RunAll},
		{Translate, "translate", true, FirstWins},
		{HeaderParser, "header-parser", false, RunAll},
		{Access, "access", false, RunAll},
		{Authn, "authn", false, FirstWins},
		{Authz, "authz", false, FirstWins},
		{Fixup, "fixup", false, RunAll},
		{Content, "content", false, RunAll},
		{Log, "log", false, Always},
	}
	require.Len(t, tests, NumPhases)
	require.Equal(t, NumPhases, len(Phases()))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.p, Phases()[i], "Phases() order")
			assert.Equal(t, tt.name, tt.p.String())
			assert.Equal(t, tt.siteOnly, tt.p.SiteOnly())
			assert.Equal(t, tt.stacking, tt.p.Stacking())
			p, err := ParsePhase(tt.name)
			require.NoError(t, err)
			assert.Equal(t, tt.p, p)
		})
	}
	_, err := ParsePhase("Content")
	assert.Error(t, err)
	_, err = ParsePhase("handler")
	assert.Error(t, err)
	assert.Equal(t, "Phase(9)", Phase(NumPhases).String())
	assert.Equal(t, "Phase(-1)", Phase(-1).String())
}

// runPhaseCase is one stack of handlers: what each returns, which ran, and
// the phase outcome.
type runPhaseCase struct {
	name   string
	sts    []Status
	ran    int // how many handlers ran (a prefix of the stack)
	want   Status
	noUser bool // authn only: leave r.User empty
}

func checkRunPhase(t *testing.T, p Phase, tests []runPhaseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(p.String()+"/"+tt.name, func(t *testing.T) {
			tr := &trace{}
			var hs []Handler
			for i, st := range tt.sts {
				name := fmt.Sprint(i)
				hs = append(hs, tr.fn(name, func(r *Request) Status {
					assert.Equal(t, p, r.Phase(), "r.Phase() while running")
					if st == panics {
						panic("boom")
					}
					if p == Authn && st == OK && !tt.noUser {
						r.User = "alice"
					}
					return st
				}))
			}
			r, _ := newReq("GET", "/x")
			got := RunPhase(p, hs, r)
			assert.Equal(t, tt.want, got, "outcome")
			var want []string
			for i := 0; i < tt.ran; i++ {
				want = append(want, fmt.Sprint(i))
			}
			assert.Equal(t, want, tr.get(), "handlers that ran")
		})
	}
}

func TestRunPhaseRunAll(t *testing.T) {
	tests := []runPhaseCase{
		{name: "empty", sts: nil, ran: 0, want: Declined},
		{name: "all OK", sts: []Status{OK, OK, OK}, ran: 3, want: OK},
		{name: "all Declined", sts: []Status{Declined, Declined}, ran: 2, want: Declined},
		{name: "any OK is OK", sts: []Status{Declined, OK, Declined}, ran: 3, want: OK},
		{name: "OK first then Declined", sts: []Status{OK, Declined}, ran: 2, want: OK},
		{name: "Done ends", sts: []Status{OK, Done, OK}, ran: 2, want: Done},
		{name: "HTTP ends", sts: []Status{Declined, http.StatusForbidden, OK}, ran: 2, want: http.StatusForbidden},
		{name: "first status ends", sts: []Status{http.StatusBadRequest, http.StatusForbidden}, ran: 1, want: http.StatusBadRequest},
		{name: "200 ends too", sts: []Status{OK, http.StatusOK, OK}, ran: 2, want: http.StatusOK},
		{name: "invalid status is 500", sts: []Status{OK, 42, OK}, ran: 2, want: http.StatusInternalServerError},
		{name: "status 600 is 500", sts: []Status{600}, ran: 1, want: http.StatusInternalServerError},
		{name: "negative non-verdict is 500", sts: []Status{-3, OK}, ran: 1, want: http.StatusInternalServerError},
		{name: "panic is 500", sts: []Status{OK, panics, OK}, ran: 2, want: http.StatusInternalServerError},
	}
	for _, p := range []Phase{PostReadRequest, HeaderParser, Access, Fixup, Content} {
		require.Equal(t, RunAll, p.Stacking())
		checkRunPhase(t, p, tests)
	}
}

func TestRunPhaseFirstWins(t *testing.T) {
	tests := []runPhaseCase{
		{name: "empty", sts: nil, ran: 0, want: Declined},
		{name: "all Declined", sts: []Status{Declined, Declined, Declined}, ran: 3, want: Declined},
		{name: "first OK wins", sts: []Status{Declined, OK, OK}, ran: 2, want: OK},
		{name: "OK stops at once", sts: []Status{OK, http.StatusForbidden}, ran: 1, want: OK},
		{name: "HTTP wins", sts: []Status{Declined, http.StatusUnauthorized, OK}, ran: 2, want: http.StatusUnauthorized},
		{name: "Done wins", sts: []Status{Done, OK}, ran: 1, want: Done},
		{name: "invalid status is 500", sts: []Status{Declined, 42, OK}, ran: 2, want: http.StatusInternalServerError},
		{name: "panic is 500", sts: []Status{Declined, panics, OK}, ran: 2, want: http.StatusInternalServerError},
	}
	for _, p := range []Phase{Translate, Authn, Authz} {
		require.Equal(t, FirstWins, p.Stacking())
		checkRunPhase(t, p, tests)
	}
	// authn: OK without saying who is 500; the rest of the stack does not run.
	checkRunPhase(t, Authn, []runPhaseCase{
		{name: "OK without user is 500", sts: []Status{Declined, OK, OK}, ran: 2, want: http.StatusInternalServerError, noUser: true},
	})
	// Elsewhere OK without a user is fine.
	checkRunPhase(t, Authz, []runPhaseCase{
		{name: "OK without user is fine outside authn", sts: []Status{OK}, ran: 1, want: OK, noUser: true},
	})
}

func TestRunPhaseAuthnUserSetEarlier(t *testing.T) {
	// A user already set (by an earlier authn handler or host) satisfies the rule.
	r, _ := newReq("GET", "/")
	r.User = "bob"
	assert.Equal(t, OK, RunPhase(Authn, []Handler{HandlerFunc(func(*Request) Status { return OK })}, r))
}

func TestRunPhaseLog(t *testing.T) {
	tests := []runPhaseCase{
		{name: "empty", sts: nil, ran: 0, want: OK},
		{name: "all Declined", sts: []Status{Declined, Declined}, ran: 2, want: OK},
		{name: "every handler runs whatever they return",
			sts: []Status{OK, http.StatusInternalServerError, Done, Declined, 42, http.StatusForbidden}, ran: 6, want: OK},
		{name: "a panic does not stop the others", sts: []Status{panics, OK, panics, Declined}, ran: 4, want: OK},
	}
	checkRunPhase(t, Log, tests)
}

func TestRunPhasePanicIsLogged(t *testing.T) {
	log, buf := newLogger()
	r, _ := newReq("GET", "/boom")
	r.bind(httptestRecorder(), nil, log)
	st := RunPhase(Fixup, []Handler{HandlerFunc(func(*Request) Status { panic("kaboom") })}, r)
	assert.Equal(t, Status(http.StatusInternalServerError), st)
	out := buf.String()
	assert.Contains(t, out, "handler panicked")
	assert.Contains(t, out, "kaboom")
	assert.Contains(t, out, `"phase":"fixup"`)
	assert.Contains(t, out, `"uri":"/boom"`)
	assert.Contains(t, out, "stack")
}

func TestRunPhaseInvalidStatusIsLogged(t *testing.T) {
	log, buf := newLogger()
	r, _ := newReq("GET", "/")
	r.bind(httptestRecorder(), nil, log)
	st := RunPhase(Content, []Handler{HandlerFunc(func(*Request) Status { return 42 })}, r)
	assert.Equal(t, Status(http.StatusInternalServerError), st)
	assert.True(t, strings.Contains(buf.String(), "invalid status"), buf.String())
	assert.Contains(t, buf.String(), `"status":42`)
}

func TestRunPhaseSetsPhase(t *testing.T) {
	r, _ := newReq("GET", "/")
	for _, p := range Phases() {
		RunPhase(p, nil, r)
		assert.Equal(t, p, r.Phase())
	}
	r.st.Phase = int(Authz)
	assert.Equal(t, Authz, r.Phase())
}
