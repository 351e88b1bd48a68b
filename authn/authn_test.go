package authn_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

// fakeAuth is an Authenticator with fixed answers.
type fakeAuth struct {
	id        *core.Identity
	err       error
	challenge string
	calls     int
}

func (a *fakeAuth) Authenticate(*core.Request) (*core.Identity, error) { a.calls++; return a.id, a.err }
func (a *fakeAuth) Challenge() string                                  { return a.challenge }

func TestAuthnHandler(t *testing.T) {
	bearerID := &core.Identity{User: "svc", AuthType: "Bearer", Claims: map[string]any{"scope": "read"}}
	tests := []struct {
		name       string
		auths      []*fakeAuth
		st         core.Status
		user       string
		authType   string
		challenges []string
		calls      []int
	}{
		{"first identity wins",
			[]*fakeAuth{{id: &core.Identity{User: "alice", AuthType: "Basic"}, challenge: "Basic"}, {id: bearerID, challenge: "Bearer"}},
			core.OK, "alice", "Basic", nil, []int{1, 0}},
		{"second accepts",
			[]*fakeAuth{{challenge: "Basic"}, {id: bearerID, challenge: "Bearer"}},
			core.OK, "svc", "Bearer", nil, []int{1, 1}},
		{"none accepts: 401 with every challenge",
			[]*fakeAuth{{challenge: `Basic realm="a"`}, {challenge: `Bearer realm="b"`}},
			http.StatusUnauthorized, "", "", []string{`Basic realm="a"`, `Bearer realm="b"`}, []int{1, 1}},
		{"error is 500",
			[]*fakeAuth{{challenge: "Basic"}, {err: errors.New("down"), challenge: "Bearer"}, {id: bearerID}},
			http.StatusInternalServerError, "", "", nil, []int{1, 1, 0}},
		{"no authenticators: 401", nil, http.StatusUnauthorized, "", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var as []core.Authenticator
			for _, a := range tt.auths {
				as = append(as, a)
			}
			r := hosttest.RequestWithAuth("/private/x", "")
			st := authn.AuthnHandler(as...).Handle(r)
			assert.Equal(t, tt.st, st)
			assert.Equal(t, tt.user, r.User)
			assert.Equal(t, tt.authType, r.AuthType)
			if tt.user != "" {
				require.NotNil(t, r.Identity)
				assert.Equal(t, tt.user, r.Identity.User)
			} else {
				assert.Nil(t, r.Identity)
			}
			assert.Equal(t, tt.challenges, r.ErrHeader().Values("WWW-Authenticate"))
			var calls []int
			for _, a := range tt.auths {
				calls = append(calls, a.calls)
			}
			assert.Equal(t, tt.calls, calls)
		})
	}
}

func TestAuthnHandlerWithBasicProviderError(t *testing.T) {
	log, buf := hosttest.NewLogger()
	b := &basic.Basic{Realm: "r", Providers: []core.PasswordProvider{&hosttest.Provider{Err: errors.New("ldap unreachable")}}}
	r := hosttest.RequestWithAuth("/private/x", hosttest.BasicAuth("demo", "demo"))
	host.Bind(r, httptest.NewRecorder(), nil, log)
	assert.Equal(t, core.Status(http.StatusInternalServerError), authn.AuthnHandler(b).Handle(r))
	assert.Empty(t, r.User)
	assert.Contains(t, buf.String(), "ldap unreachable")
	assert.Empty(t, r.ErrHeader().Get("WWW-Authenticate"), "a broken back end is not a challenge")
}

type fakeAuthz struct {
	ok    bool
	err   error
	calls int
}

func (a *fakeAuthz) Authorize(*core.Request) (bool, error) { a.calls++; return a.ok, a.err }

func TestAuthzHandler(t *testing.T) {
	tests := []struct {
		name  string
		user  string
		authz []*fakeAuthz
		want  core.Status
		calls []int
	}{
		{"no user is 401", "", []*fakeAuthz{{ok: true}}, http.StatusUnauthorized, []int{0}},
		{"granted", "u", []*fakeAuthz{{ok: true}}, core.OK, []int{1}},
		{"any grants (RequireAny)", "u", []*fakeAuthz{{}, {ok: true}, {ok: true}}, core.OK, []int{1, 1, 0}},
		{"refused is 403", "u", []*fakeAuthz{{}, {}}, http.StatusForbidden, []int{1, 1}},
		{"no authorizers is 403", "u", nil, http.StatusForbidden, nil},
		{"error is 500", "u", []*fakeAuthz{{}, {err: errors.New("down")}, {ok: true}}, http.StatusInternalServerError, []int{1, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var as []core.Authorizer
			for _, a := range tt.authz {
				as = append(as, a)
			}
			r := hosttest.RequestWithAuth("/private/x", "")
			r.User = tt.user
			assert.Equal(t, tt.want, authn.AuthzHandler(as...).Handle(r))
			var calls []int
			for _, a := range tt.authz {
				calls = append(calls, a.calls)
			}
			assert.Equal(t, tt.calls, calls)
		})
	}
}

// TestAuthThroughSite runs Basic + require through a real server, as the
// demo's /private location does.
func TestAuthThroughSite(t *testing.T) {
	prov := &hosttest.GroupProvider{
		Provider: hosttest.Provider{Users: map[string]string{"demo": "demo", "guest": "guest"}},
		GroupsOf: map[string][]string{"demo": {"staff"}},
	}
	group, err := authn.ParseRequire("group staff")
	require.NoError(t, err)
	tr := &trace{}
	s := newSite(t,
		at("/", map[core.Phase][]core.Handler{core.Content: {core.HandlerFunc(func(r *core.Request) core.Status { r.WriteString("public"); return core.OK })}}),
		at("/private", map[core.Phase][]core.Handler{
			core.Authn: {authn.AuthnHandler(&basic.Basic{Realm: `anyhost "demo"`, Providers: []core.PasswordProvider{prov}})},
			core.Authz: {authn.AuthzHandler(group)},
			core.Content: {core.HandlerFunc(func(r *core.Request) core.Status {
				r.WriteString("Hello, " + r.User + "! (" + r.AuthType + ")")
				return core.OK
			})},
			core.Log: {tr.fn("log", func(r *core.Request) core.Status { tr.add(r.User); return core.OK })},
		}),
	)
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := srv.Client()
	challenge := `Basic realm="anyhost \"demo\""`

	tests := []struct {
		name      string
		path      string
		auth      string
		status    int
		body      string
		challenge string
		loggedAs  string
	}{
		{"public needs nothing", "/x", "", 200, "public", "", ""},
		{"no credentials", "/private/", "", 401, "401 Unauthorized\n", challenge, ""},
		{"bad password", "/private/", hosttest.BasicAuth("demo", "wrong"), 401, "401 Unauthorized\n", challenge, ""},
		{"unknown user", "/private/", hosttest.BasicAuth("nobody", "x"), 401, "401 Unauthorized\n", challenge, ""},
		{"wrong scheme", "/private/", "Bearer xyz", 401, "401 Unauthorized\n", challenge, ""},
		{"good, lower-case scheme", "/private", strings.Replace(hosttest.BasicAuth("demo", "demo"), "Basic", "basic", 1),
			200, "Hello, demo! (Basic)", "", "demo"},
		{"good but not in group", "/private/x", hosttest.BasicAuth("guest", "guest"), 403, "403 Forbidden\n", "", "guest"},
		{"segment boundary", "/private123", "", 200, "public", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr.reset()
			var hdr []string
			if tt.auth != "" {
				hdr = []string{"Authorization", tt.auth}
			}
			st, h, body := get(t, c, srv.URL+tt.path, hdr...)
			assert.Equal(t, tt.status, st)
			assert.Equal(t, tt.body, body)
			assert.Equal(t, tt.challenge, h.Get("WWW-Authenticate"))
			if strings.HasPrefix(tt.path, "/private/") || tt.path == "/private" {
				assert.Equal(t, []string{"log", tt.loggedAs}, tr.get(), "log phase runs with the user, if any")
			}
		})
	}
}
