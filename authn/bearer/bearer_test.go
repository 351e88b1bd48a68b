package bearer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/authn"
	"github.com/anyhost/anyhost/authn/bearer"
	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

// tokenTable is a verifier over a fixed token -> identity table.
type tokenTable struct {
	ids   map[string]*core.Identity
	err   error
	calls int
}

func (v *tokenTable) VerifyToken(_ context.Context, token string) (*core.Identity, error) {
	v.calls++
	if v.err != nil {
		return nil, v.err
	}
	id, ok := v.ids[token]
	if !ok {
		return nil, fmt.Errorf("%w: unknown token", core.ErrInvalidToken)
	}
	c := *id
	return &c, nil
}

func TestParseBearer(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc.def.ghi": "abc.def.ghi",
		"bearer  tok ":       "tok",
		"BEARER tok":         "tok",
	} {
		got, ok := bearer.ParseBearer(h)
		assert.True(t, ok, h)
		assert.Equal(t, want, got, h)
	}
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearerabc"} {
		_, ok := bearer.ParseBearer(h)
		assert.False(t, ok, "%q", h)
	}
}

func TestBearerVerifierChain(t *testing.T) {
	first := &tokenTable{ids: map[string]*core.Identity{"t1": {User: "alice", Claims: map[string]any{"role": "admin"}}}}
	second := &tokenTable{ids: map[string]*core.Identity{"t2": {User: "bob", AuthType: "OIDC"}, "nosub": {}}}
	b := &bearer.Bearer{Realm: `api "v1"`, Verifiers: []core.TokenVerifier{first, second}}
	assert.Equal(t, `Bearer realm="api \"v1\""`, b.Challenge())

	id, err := b.Authenticate(hosttest.RequestWithAuth("/private/x", "Bearer t1"))
	require.NoError(t, err)
	require.NotNil(t, id)
	assert.Equal(t, "alice", id.User)
	assert.Equal(t, "Bearer", id.AuthType)
	assert.Equal(t, "admin", id.Claims["role"])

	id, err = b.Authenticate(hosttest.RequestWithAuth("/private/x", "Bearer t2"))
	require.NoError(t, err)
	assert.Equal(t, "bob", id.User)
	assert.Equal(t, "OIDC", id.AuthType)

	for _, h := range []string{"", "Basic ZGVtbzpkZW1v", "Bearer forged", "Bearer nosub"} {
		id, err = b.Authenticate(hosttest.RequestWithAuth("/private/x", h))
		assert.NoError(t, err, h)
		assert.Nil(t, id, h)
	}
}

func TestBearerBackEndErrorIsNotARefusal(t *testing.T) {
	down := &tokenTable{err: errors.New("jwks: connection refused")}
	b := &bearer.Bearer{Realm: "api", Verifiers: []core.TokenVerifier{down}}
	id, err := b.Authenticate(hosttest.RequestWithAuth("/private/x", "Bearer t1"))
	assert.Nil(t, id)
	require.Error(t, err)
	r := hosttest.RequestWithAuth("/private/x", "Bearer t1")
	assert.Equal(t, core.Status(500), authn.AuthnHandler(b).Handle(r))
}
