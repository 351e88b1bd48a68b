package authn_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

func TestParseRequire(t *testing.T) {
	good := []struct {
		rule string
		want authn.Require
	}{
		{"valid-user", authn.Require{Kind: "valid-user", Values: []string{}}},
		{"  valid-user  ", authn.Require{Kind: "valid-user", Values: []string{}}},
		{"user demo", authn.Require{Kind: "user", Values: []string{"demo"}}},
		{"user alice  bob", authn.Require{Kind: "user", Values: []string{"alice", "bob"}}},
		{"group staff admins", authn.Require{Kind: "group", Values: []string{"staff", "admins"}}},
		{"claim scope=read", authn.Require{Kind: "claim", Values: []string{"scope=read"}}},
		{"claim role=admin email=a=b", authn.Require{Kind: "claim", Values: []string{"role=admin", "email=a=b"}}},
		{"claim flag=", authn.Require{Kind: "claim", Values: []string{"flag="}}},
	}
	for _, tt := range good {
		t.Run(tt.rule, func(t *testing.T) {
			rq, err := authn.ParseRequire(tt.rule)
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
			_, err := authn.ParseRequire(tt.rule)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

// groupsOf authenticates through Basic with a GroupLister provider, so the
// group rule is tested with groups as a provider delivers them.
func groupsOf(t *testing.T, user string) *core.Request {
	t.Helper()
	p := &hosttest.GroupProvider{
		Provider: hosttest.Provider{Users: map[string]string{"alice": "pw", "bob": "pw", "carol": "pw"}},
		GroupsOf: map[string][]string{"alice": {"staff", "admins"}, "bob": {"users"}},
	}
	r := hosttest.RequestWithAuth("/private/x", hosttest.BasicAuth(user, "pw"))
	require.Equal(t, core.OK, authn.AuthnHandler(&basic.Basic{Providers: []core.PasswordProvider{p}}).Handle(r))
	return r
}

func TestRequireAuthorize(t *testing.T) {
	withID := func(id *core.Identity) *core.Request {
		r := hosttest.RequestWithAuth("/private/x", "")
		if id != nil {
			r.User, r.AuthType, r.Identity = id.User, id.AuthType, id
		}
		return r
	}
	claims := func(c map[string]any) *core.Request {
		return withID(&core.Identity{User: "tok", AuthType: "Bearer", Claims: c})
	}
	tests := []struct {
		name string
		rule string
		r    func(t *testing.T) *core.Request
		want bool
	}{
		{"valid-user with user", "valid-user", func(*testing.T) *core.Request { return withID(&core.Identity{User: "x"}) }, true},
		{"valid-user without user", "valid-user", func(*testing.T) *core.Request { return withID(nil) }, false},
		{"user listed", "user alice bob", func(*testing.T) *core.Request { return withID(&core.Identity{User: "bob"}) }, true},
		{"user not listed", "user alice bob", func(*testing.T) *core.Request { return withID(&core.Identity{User: "carol"}) }, false},
		{"user is case-sensitive", "user alice", func(*testing.T) *core.Request { return withID(&core.Identity{User: "Alice"}) }, false},
		{"user without user", "user alice", func(*testing.T) *core.Request { return withID(nil) }, false},
		{"user set without identity", "user alice", func(*testing.T) *core.Request {
			r := withID(nil)
			r.User = "alice"
			return r
		}, true},
		{"group via provider", "group admins", func(t *testing.T) *core.Request { return groupsOf(t, "alice") }, true},
		{"group any of", "group nobody users", func(t *testing.T) *core.Request { return groupsOf(t, "bob") }, true},
		{"group not member", "group admins", func(t *testing.T) *core.Request { return groupsOf(t, "bob") }, false},
		{"group, user without groups", "group admins", func(t *testing.T) *core.Request { return groupsOf(t, "carol") }, false},
		{"group without identity", "group admins", func(*testing.T) *core.Request {
			r := withID(nil)
			r.User = "alice"
			return r
		}, false},
		{"claim string", "claim scope=read", func(*testing.T) *core.Request { return claims(map[string]any{"scope": "read"}) }, true},
		{"claim string mismatch", "claim scope=read", func(*testing.T) *core.Request { return claims(map[string]any{"scope": "write"}) }, false},
		{"claim []string", "claim role=admin", func(*testing.T) *core.Request {
			return claims(map[string]any{"role": []string{"user", "admin"}})
		}, true},
		{"claim []any (JSON array)", "claim role=admin", func(*testing.T) *core.Request {
			return claims(map[string]any{"role": []any{"user", "admin"}})
		}, true},
		{"claim []any mismatch", "claim role=root", func(*testing.T) *core.Request {
			return claims(map[string]any{"role": []any{"user", "admin"}})
		}, false},
		{"claim number (JSON)", "claim level=3", func(*testing.T) *core.Request { return claims(map[string]any{"level": float64(3)}) }, true},
		{"claim large JSON number", "claim uid=1000000", func(*testing.T) *core.Request { return claims(map[string]any{"uid": float64(1000000)}) }, true},
		{"claim number in a JSON array", "claim ids=42", func(*testing.T) *core.Request { return claims(map[string]any{"ids": []any{float64(7), float64(42)}}) }, true},
		{"claim bool", "claim verified=true", func(*testing.T) *core.Request { return claims(map[string]any{"verified": true}) }, true},
		{"claim any of several", "claim a=1 b=2", func(*testing.T) *core.Request { return claims(map[string]any{"b": "2"}) }, true},
		{"claim missing", "claim scope=read", func(*testing.T) *core.Request { return claims(map[string]any{}) }, false},
		{"claim nil value", "claim scope=read", func(*testing.T) *core.Request { return claims(map[string]any{"scope": nil}) }, false},
		{"claim nil claims", "claim scope=read", func(*testing.T) *core.Request { return claims(nil) }, false},
		{"claim without identity", "claim scope=read", func(*testing.T) *core.Request {
			r := withID(nil)
			r.User = "x"
			return r
		}, false},
		{"claim value with =", "claim email=a=b", func(*testing.T) *core.Request { return claims(map[string]any{"email": "a=b"}) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq, err := authn.ParseRequire(tt.rule)
			require.NoError(t, err)
			ok, err := rq.Authorize(tt.r(t))
			require.NoError(t, err)
			assert.Equal(t, tt.want, ok)
		})
	}
}
