package basic_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn/basic"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

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
		{"NUL in the user-id", "Basic " + b64("a\x00b:c"), "", "", false},
		{"newline in the user-id", "Basic " + b64("demo\nadmin:x"), "", "", false},
		{"DEL in the user-id", "Basic " + b64("demo\x7f:x"), "", "", false},
		{"control characters in the password", "Basic " + b64("demo:a\x00b\tc"), "demo", "a\x00b\tc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, ok := basic.ParseBasic(tt.header)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.user, user)
			assert.Equal(t, tt.pass, pass)
		})
	}
}

// hosttest.Provider knows some users; it records the calls it gets.
func TestBasicProviderChain(t *testing.T) {
	broken := errors.New("directory down")
	tests := []struct {
		name      string
		providers []*hosttest.Provider
		header    string
		user      string // "" = no identity
		err       bool
		calls     []int // calls each provider got
	}{
		{"no header", []*hosttest.Provider{{Users: map[string]string{"demo": "demo"}}}, "", "", false, []int{0}},
		{"other scheme", []*hosttest.Provider{{Users: map[string]string{"demo": "demo"}}}, "Bearer abc", "", false, []int{0}},
		{"malformed", []*hosttest.Provider{{Users: map[string]string{"demo": "demo"}}}, "Basic ***", "", false, []int{0}},
		{"granted", []*hosttest.Provider{{Users: map[string]string{"demo": "demo"}}}, hosttest.BasicAuth("demo", "demo"), "demo", false, []int{1}},
		{"wrong password", []*hosttest.Provider{{Users: map[string]string{"demo": "demo"}}}, hosttest.BasicAuth("demo", "nope"), "", false, []int{1}},
		{"unknown everywhere", []*hosttest.Provider{{Users: map[string]string{}}, {Users: map[string]string{}}},
			hosttest.BasicAuth("ghost", "x"), "", false, []int{1, 1}},
		{"user-not-found falls through", []*hosttest.Provider{
			{Users: map[string]string{"other": "x"}},
			{Users: map[string]string{"demo": "demo"}},
		}, hosttest.BasicAuth("demo", "demo"), "demo", false, []int{1, 1}},
		{"denied stops the chain", []*hosttest.Provider{
			{Users: map[string]string{"demo": "old"}},
			{Users: map[string]string{"demo": "demo"}}, // would grant
		}, hosttest.BasicAuth("demo", "demo"), "", false, []int{1, 0}},
		{"granted stops the chain", []*hosttest.Provider{
			{Users: map[string]string{"demo": "demo"}},
			{Users: map[string]string{"demo": "demo"}},
		}, hosttest.BasicAuth("demo", "demo"), "demo", false, []int{1, 0}},
		{"provider error", []*hosttest.Provider{
			{Users: map[string]string{}},
			{Err: broken},
			{Users: map[string]string{"demo": "demo"}},
		}, hosttest.BasicAuth("demo", "demo"), "", true, []int{1, 1, 0}},
		{"no providers", nil, hosttest.BasicAuth("demo", "demo"), "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &basic.Basic{Realm: "r"}
			for _, p := range tt.providers {
				b.Providers = append(b.Providers, p)
			}
			id, err := b.Authenticate(hosttest.RequestWithAuth("/private/x", tt.header))
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
				calls = append(calls, p.Called())
			}
			assert.Equal(t, tt.calls, calls)
		})
	}
}

func TestBasicGroups(t *testing.T) {
	p := &hosttest.GroupProvider{
		Provider: hosttest.Provider{Users: map[string]string{"demo": "demo"}},
		GroupsOf: map[string][]string{"demo": {"staff", "admins"}},
	}
	b := &basic.Basic{Realm: "r", Providers: []core.PasswordProvider{p}}
	id, err := b.Authenticate(hosttest.RequestWithAuth("/private/x", hosttest.BasicAuth("demo", "demo")))
	require.NoError(t, err)
	require.NotNil(t, id)
	assert.Equal(t, []string{"staff", "admins"}, id.Groups)

	p.GroupsErr = errors.New("groups unavailable")
	id, err = b.Authenticate(hosttest.RequestWithAuth("/private/x", hosttest.BasicAuth("demo", "demo")))
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
			assert.Equal(t, tt.want, (&basic.Basic{Realm: tt.realm}).Challenge())
		})
	}
}
