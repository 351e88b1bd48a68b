package core

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestParseBasic(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name       string
		header     string
		user, pass string
		ok         bool
	}{
		{"plain", "Basic " + b64("demo:demo"), "demo", "demo", true},
		{"lower-case scheme", "basic " + b64("demo:demo"), "demo", "demo", true},
		{"upper-case scheme", "BASIC " + b64("demo:demo"), "demo", "demo", true},
		{"mixed-case scheme", "bAsIc " + b64("demo:demo"), "demo", "demo", true},
		{"surrounding spaces", "Basic   " + b64("demo:demo") + "  ", "demo", "demo", true},
		{"password with colons", "Basic " + b64("demo:a:b:c"), "demo", "a:b:c", true},
		{"empty password", "Basic " + b64("demo:"), "demo", "", true},
		{"utf-8", "Basic " + b64("jürgen:pässwörd"), "jürgen", "pässwörd", true},
		{"empty header", "", "", "", false},
		{"scheme only", "Basic", "", "", false},
		{"scheme and space only", "Basic ", "", "", false},
		{"other scheme", "Bearer " + b64("demo:demo"), "", "", false},
		{"scheme without space", "Basic" + b64("demo:demo"), "", "", false},
		{"scheme prefix of a longer word", "Basically " + b64("demo:demo"), "", "", false},
		{"malformed base64", "Basic !!!not-base64!!!", "", "", false},
		{"truncated base64", "Basic " + b64("demo:demo")[:5], "", "", false},
		{"no colon", "Basic " + b64("demodemo"), "", "", false},
		{"empty user", "Basic " + b64(":demo"), "", "", false},
		{"empty credentials", "Basic " + b64(":"), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, ok := ParseBasic(tt.header)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.user, user)
			assert.Equal(t, tt.pass, pass)
		})
	}
}

// fakeProvider knows some users; it records the calls it gets.
type fakeProvider struct {
	users map[string]string
	err   error
	mu    sync.Mutex
	calls []string
}

func (p *fakeProvider) CheckPassword(_ context.Context, user, pass string) (AuthResult, error) {
	p.mu.Lock()
	p.calls = append(p.calls, user)
	p.mu.Unlock()
	if p.err != nil {
		return Denied, p.err
	}
	want, ok := p.users[user]
	switch {
	case !ok:
		return UserNotFound, nil
	case want == pass:
		return Granted, nil
	}
	return Denied, nil
}

func (p *fakeProvider) called() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// groupProvider is a provider that can list groups.
type groupProvider struct {
	fakeProvider
	groups map[string][]string
	gerr   error
}

func (p *groupProvider) Groups(_ context.Context, user string) ([]string, error) {
	return p.groups[user], p.gerr
}

func authReq(header string) *Request {
	r, _ := newReq("GET", "/private/x")
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	return r
}

func TestAuthResultString(t *testing.T) {
	assert.Equal(t, "denied", Denied.String())
	assert.Equal(t, "granted", Granted.String())
	assert.Equal(t, "user-not-found", UserNotFound.String())
}

func TestBasicProviderChain(t *testing.T) {
	broken := errors.New("directory down")
	tests := []struct {
		name      string
		providers []*fakeProvider
		header    string
		user      string // "" = no identity
		err       bool
		calls     []int // calls each provider got
	}{
		{"no header", []*fakeProvider{{users: map[string]string{"demo": "demo"}}}, "", "", false, []int{0}},
		{"other scheme", []*fakeProvider{{users: map[string]string{"demo": "demo"}}}, "Bearer abc", "", false, []int{0}},
		{"malformed", []*fakeProvider{{users: map[string]string{"demo": "demo"}}}, "Basic ***", "", false, []int{0}},
		{"granted", []*fakeProvider{{users: map[string]string{"demo": "demo"}}}, basicHeader("demo", "demo"), "demo", false, []int{1}},
		{"wrong password", []*fakeProvider{{users: map[string]string{"demo": "demo"}}}, basicHeader("demo", "nope"), "", false, []int{1}},
		{"unknown everywhere", []*fakeProvider{{users: map[string]string{}}, {users: map[string]string{}}},
			basicHeader("ghost", "x"), "", false, []int{1, 1}},
		{"user-not-found falls through", []*fakeProvider{
			{users: map[string]string{"other": "x"}},
			{users: map[string]string{"demo": "demo"}},
		}, basicHeader("demo", "demo"), "demo", false, []int{1, 1}},
		{"denied stops the chain", []*fakeProvider{
			{users: map[string]string{"demo": "old"}},
			{users: map[string]string{"demo": "demo"}}, // would grant
		}, basicHeader("demo", "demo"), "", false, []int{1, 0}},
		{"granted stops the chain", []*fakeProvider{
			{users: map[string]string{"demo": "demo"}},
			{users: map[string]string{"demo": "demo"}},
		}, basicHeader("demo", "demo"), "demo", false, []int{1, 0}},
		{"provider error", []*fakeProvider{
			{users: map[string]string{}},
			{err: broken},
			{users: map[string]string{"demo": "demo"}},
		}, basicHeader("demo", "demo"), "", true, []int{1, 1, 0}},
		{"no providers", nil, basicHeader("demo", "demo"), "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Basic{Realm: "r"}
			for _, p := range tt.providers {
				b.Providers = append(b.Providers, p)
			}
			id, err := b.Authenticate(authReq(tt.header))
			if tt.err {
				require.Error(t, err)
				assert.ErrorIs(t, err, broken)
				assert.Nil(t, id)
			} else {
				require.NoError(t, err)
				if tt.user == "" {
					assert.Nil(t, id)
				} else {
					require.NotNil(t, id)
					assert.Equal(t, tt.user, id.User)
					assert.Equal(t, "Basic", id.AuthType)
				}
			}
			var calls []int
			for _, p := range tt.providers {
				calls = append(calls, p.called())
			}
			assert.Equal(t, tt.calls, calls)
		})
	}
}

func TestBasicGroups(t *testing.T) {
	p := &groupProvider{
		fakeProvider: fakeProvider{users: map[string]string{"demo": "demo"}},
		groups:       map[string][]string{"demo": {"staff", "admins"}},
	}
	b := &Basic{Realm: "r", Providers: []PasswordProvider{p}}
	id, err := b.Authenticate(authReq(basicHeader("demo", "demo")))
	require.NoError(t, err)
	require.NotNil(t, id)
	assert.Equal(t, []string{"staff", "admins"}, id.Groups)

	p.gerr = errors.New("groups unavailable")
	id, err = b.Authenticate(authReq(basicHeader("demo", "demo")))
	assert.Error(t, err)
	assert.Nil(t, id)
}

func TestBasicChallenge(t *testing.T) {
	tests := []struct{ realm, want string }{
		{"anyhost demo", `Basic realm="anyhost demo"`},
		{"", `Basic realm=""`},
		{`say "hi"`, `Basic realm="say \"hi\""`},
		{`back\slash`, `Basic realm="back\\slash"`},
		{`\"`, `Basic realm="\\\""`},
	}
	for _, tt := range tests {
		t.Run(tt.realm, func(t *testing.T) {
			assert.Equal(t, tt.want, (&Basic{Realm: tt.realm}).Challenge())
		})
	}
}

// fakeAuth is an Authenticator with fixed answers.
type fakeAuth struct {
	id        *Identity
	err       error
	challenge string
	calls     int
}

func (a *fakeAuth) Authenticate(*Request) (*Identity, error) { a.calls++; return a.id, a.err }
func (a *fakeAuth) Challenge() string                        { return a.challenge }

func TestAuthnHandler(t *testing.T) {
	bearerID := &Identity{User: "svc", AuthType: "Bearer", Claims: map[string]any{"scope": "read"}}
	tests := []struct {
		name       string
		auths      []*fakeAuth
		st         Status
		user       string
		authType   string
		challenges []string
		calls      []int
	}{
		{"first identity wins",
			[]*fakeAuth{{id: &Identity{User: "alice", AuthType: "Basic"}, challenge: "Basic"}, {id: bearerID, challenge: "Bearer"}},
			OK, "alice", "Basic", nil, []int{1, 0}},
		{"second accepts",
			[]*fakeAuth{{challenge: "Basic"}, {id: bearerID, challenge: "Bearer"}},
			OK, "svc", "Bearer", nil, []int{1, 1}},
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
			var as []Authenticator
			for _, a := range tt.auths {
				as = append(as, a)
			}
			r := authReq("")
			st := AuthnHandler(as...).Handle(r)
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
	log, buf := newLogger()
	b := &Basic{Realm: "r", Providers: []PasswordProvider{&fakeProvider{err: errors.New("ldap unreachable")}}}
	r := authReq(basicHeader("demo", "demo"))
	r.Bind(httptest.NewRecorder(), nil, log)
	assert.Equal(t, Status(http.StatusInternalServerError), AuthnHandler(b).Handle(r))
	assert.Empty(t, r.User)
	assert.Contains(t, buf.String(), "ldap unreachable")
	assert.Empty(t, r.ErrHeader().Get("WWW-Authenticate"), "a broken back end is not a challenge")
}

func TestParseRequire(t *testing.T) {
	good := []struct {
		rule string
		want Require
	}{
		{"valid-user", Require{Kind: "valid-user", Values: []string{}}},
		{"  valid-user  ", Require{Kind: "valid-user", Values: []string{}}},
		{"user demo", Require{Kind: "user", Values: []string{"demo"}}},
		{"user alice  bob", Require{Kind: "user", Values: []string{"alice", "bob"}}},
		{"group staff admins", Require{Kind: "group", Values: []string{"staff", "admins"}}},
		{"claim scope=read", Require{Kind: "claim", Values: []string{"scope=read"}}},
		{"claim role=admin email=a=b", Require{Kind: "claim", Values: []string{"role=admin", "email=a=b"}}},
		{"claim flag=", Require{Kind: "claim", Values: []string{"flag="}}},
	}
	for _, tt := range good {
		t.Run(tt.rule, func(t *testing.T) {
			rq, err := ParseRequire(tt.rule)
			require.NoError(t, err)
			assert.Equal(t, tt.want, rq)
		})
	}
	bad := []struct{ rule, msg string }{
		{"", "empty"},
		{"   ", "empty"},
		{"valid-user demo", "no arguments"},
		{"user", "at least one name"},
		{"group", "at least one name"},
		{"claim", "KEY=VALUE"},
		{"claim scope", "not KEY=VALUE"},
		{"claim =read", "not KEY=VALUE"},
		{"ip 127.0.0.1", "unknown require rule"},
		{"Valid-User", "unknown require rule"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.rule, func(t *testing.T) {
			_, err := ParseRequire(tt.rule)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

// groupsOf authenticates through Basic with a GroupLister provider, so the
// group rule is tested with groups as a provider delivers them.
func groupsOf(t *testing.T, user string) *Request {
	t.Helper()
	p := &groupProvider{
		fakeProvider: fakeProvider{users: map[string]string{"alice": "pw", "bob": "pw", "carol": "pw"}},
		groups:       map[string][]string{"alice": {"staff", "admins"}, "bob": {"users"}},
	}
	r := authReq(basicHeader(user, "pw"))
	require.Equal(t, OK, AuthnHandler(&Basic{Providers: []PasswordProvider{p}}).Handle(r))
	return r
}

func TestRequireAuthorize(t *testing.T) {
	withID := func(id *Identity) *Request {
		r := authReq("")
		if id != nil {
			r.User, r.AuthType, r.Identity = id.User, id.AuthType, id
		}
		return r
	}
	claims := func(c map[string]any) *Request {
		return withID(&Identity{User: "tok", AuthType: "Bearer", Claims: c})
	}
	tests := []struct {
		name string
		rule string
		r    func(t *testing.T) *Request
		want bool
	}{
		{"valid-user with user", "valid-user", func(*testing.T) *Request { return withID(&Identity{User: "x"}) }, true},
		{"valid-user without user", "valid-user", func(*testing.T) *Request { return withID(nil) }, false},
		{"user listed", "user alice bob", func(*testing.T) *Request { return withID(&Identity{User: "bob"}) }, true},
		{"user not listed", "user alice bob", func(*testing.T) *Request { return withID(&Identity{User: "carol"}) }, false},
		{"user is case-sensitive", "user alice", func(*testing.T) *Request { return withID(&Identity{User: "Alice"}) }, false},
		{"user without user", "user alice", func(*testing.T) *Request { return withID(nil) }, false},
		{"user set without identity", "user alice", func(*testing.T) *Request {
			r := withID(nil)
			r.User = "alice"
			return r
		}, true},
		{"group via provider", "group admins", func(t *testing.T) *Request { return groupsOf(t, "alice") }, true},
		{"group any of", "group nobody users", func(t *testing.T) *Request { return groupsOf(t, "bob") }, true},
		{"group not member", "group admins", func(t *testing.T) *Request { return groupsOf(t, "bob") }, false},
		{"group, user without groups", "group admins", func(t *testing.T) *Request { return groupsOf(t, "carol") }, false},
		{"group without identity", "group admins", func(*testing.T) *Request {
			r := withID(nil)
			r.User = "alice"
			return r
		}, false},
		{"claim string", "claim scope=read", func(*testing.T) *Request { return claims(map[string]any{"scope": "read"}) }, true},
		{"claim string mismatch", "claim scope=read", func(*testing.T) *Request { return claims(map[string]any{"scope": "write"}) }, false},
		{"claim []string", "claim role=admin", func(*testing.T) *Request {
			return claims(map[string]any{"role": []string{"user", "admin"}})
		}, true},
		{"claim []any (JSON array)", "claim role=admin", func(*testing.T) *Request {
			return claims(map[string]any{"role": []any{"user", "admin"}})
		}, true},
		{"claim []any mismatch", "claim role=root", func(*testing.T) *Request {
			return claims(map[string]any{"role": []any{"user", "admin"}})
		}, false},
		{"claim number (JSON)", "claim level=3", func(*testing.T) *Request { return claims(map[string]any{"level": float64(3)}) }, true},
		{"claim large JSON number", "claim uid=1000000", func(*testing.T) *Request { return claims(map[string]any{"uid": float64(1000000)}) }, true},
		{"claim number in a JSON array", "claim ids=42", func(*testing.T) *Request { return claims(map[string]any{"ids": []any{float64(7), float64(42)}}) }, true},
		{"claim bool", "claim verified=true", func(*testing.T) *Request { return claims(map[string]any{"verified": true}) }, true},
		{"claim any of several", "claim a=1 b=2", func(*testing.T) *Request { return claims(map[string]any{"b": "2"}) }, true},
		{"claim missing", "claim scope=read", func(*testing.T) *Request { return claims(map[string]any{}) }, false},
		{"claim nil value", "claim scope=read", func(*testing.T) *Request { return claims(map[string]any{"scope": nil}) }, false},
		{"claim nil claims", "claim scope=read", func(*testing.T) *Request { return claims(nil) }, false},
		{"claim without identity", "claim scope=read", func(*testing.T) *Request {
			r := withID(nil)
			r.User = "x"
			return r
		}, false},
		{"claim value with =", "claim email=a=b", func(*testing.T) *Request { return claims(map[string]any{"email": "a=b"}) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq, err := ParseRequire(tt.rule)
			require.NoError(t, err)
			ok, err := rq.Authorize(tt.r(t))
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
		})
	}
}

type fakeAuthz struct {
	ok    bool
	err   error
	calls int
}

func (a *fakeAuthz) Authorize(*Request) (bool, error) { a.calls++; return a.ok, a.err }

func TestAuthzHandler(t *testing.T) {
	tests := []struct {
		name  string
		user  string
		authz []*fakeAuthz
		want  Status
		calls []int
	}{
		{"no user is 401", "", []*fakeAuthz{{ok: true}}, http.StatusUnauthorized, []int{0}},
		{"granted", "u", []*fakeAuthz{{ok: true}}, OK, []int{1}},
		{"any grants (RequireAny)", "u", []*fakeAuthz{{}, {ok: true}, {ok: true}}, OK, []int{1, 1, 0}},
		{"refused is 403", "u", []*fakeAuthz{{}, {}}, http.StatusForbidden, []int{1, 1}},
		{"no authorizers is 403", "u", nil, http.StatusForbidden, nil},
		{"error is 500", "u", []*fakeAuthz{{}, {err: errors.New("down")}, {ok: true}}, http.StatusInternalServerError, []int{1, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var as []Authorizer
			for _, a := range tt.authz {
				as = append(as, a)
			}
			r := authReq("")
			r.User = tt.user
			assert.Equal(t, tt.want, AuthzHandler(as...).Handle(r))
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
	prov := &groupProvider{
		fakeProvider: fakeProvider{users: map[string]string{"demo": "demo", "guest": "guest"}},
		groups:       map[string][]string{"demo": {"staff"}},
	}
	group, err := ParseRequire("group staff")
	require.NoError(t, err)
	tr := &trace{}
	s := newSite(t,
		at("/", map[Phase][]Handler{Content: {HandlerFunc(func(r *Request) Status { r.WriteString("public"); return OK })}}),
		at("/private", map[Phase][]Handler{
			Authn: {AuthnHandler(&Basic{Realm: `anyhost "demo"`, Providers: []PasswordProvider{prov}})},
			Authz: {AuthzHandler(group)},
			Content: {HandlerFunc(func(r *Request) Status {
				r.WriteString("Hello, " + r.User + "! (" + r.AuthType + ")")
				return OK
			})},
			Log: {tr.fn("log", func(r *Request) Status { tr.add(r.User); return OK })},
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
		{"bad password", "/private/", basicHeader("demo", "wrong"), 401, "401 Unauthorized\n", challenge, ""},
		{"unknown user", "/private/", basicHeader("nobody", "x"), 401, "401 Unauthorized\n", challenge, ""},
		{"wrong scheme", "/private/", "Bearer xyz", 401, "401 Unauthorized\n", challenge, ""},
		{"good, lower-case scheme", "/private", strings.Replace(basicHeader("demo", "demo"), "Basic", "basic", 1),
			200, "Hello, demo! (Basic)", "", "demo"},
		{"good but not in group", "/private/x", basicHeader("guest", "guest"), 403, "403 Forbidden\n", "", "guest"},
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
