package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func okFactory(Options) (Handler, error) {
	return HandlerFunc(func(*Request) Status { return OK }), nil
}

func TestRegistryRegisterAndLookup(t *testing.T) {
	g := &Registry[HandlerFactory]{}
	assert.Empty(t, g.Names())
	_, ok := g.Lookup("x")
	assert.False(t, ok)

	g.Register("static", "serves files", okFactory)
	g.Register("demo.hello", "says hello", okFactory)
	g.Register("a-b_c.d2", "odd but valid", okFactory)
	g.Register("demo.echo", "echoes", okFactory)

	assert.Equal(t, []string{"a-b_c.d2", "demo.echo", "demo.hello", "static"}, g.Names())
	f, ok := g.Lookup("demo.hello")
	require.True(t, ok)
	require.NotNil(t, f)
	h, err := f(Options{})
	require.NoError(t, err)
	assert.Equal(t, OK, h.Handle(&Request{}))
	assert.Equal(t, "says hello", g.Doc("demo.hello"))
	assert.Empty(t, g.Doc("unknown"))
}

func TestRegistryDuplicatePanics(t *testing.T) {
	g := &Registry[HandlerFactory]{kind: "handler"}
	g.Register("demo.hello", "", okFactory)
	assert.PanicsWithValue(t, `anyhost: handler "demo.hello" registered twice`, func() {
		g.Register("demo.hello", "again", okFactory)
	})
	assert.Equal(t, []string{"demo.hello"}, g.Names())
	assert.Empty(t, g.Doc("demo.hello"), "the first registration stays")
}

func TestRegistryMalformedNamePanics(t *testing.T) {
	for _, name := range []string{
		"", "Hello", "demo.Hello", "1abc", "demo.1x", "demo..hello", ".demo", "demo.",
		"de mo", "demo/hello", "démo", "-x", "demo._x",
	} {
		t.Run(name, func(t *testing.T) {
			g := &Registry[ProviderFactory]{kind: "provider"}
			assert.Panics(t, func() { g.Register(name, "", nil) })
			assert.Empty(t, g.Names())
		})
	}
}

func TestRegistryConcurrentUse(t *testing.T) {
	g := &Registry[HandlerFactory]{}
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			g.Register(fmt.Sprintf("h%d", i), "", okFactory)
			g.Names()
			g.Lookup("h0")
			g.Doc("h0")
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	assert.Len(t, g.Names(), 8)
}

// The global registries are shared with the rest of the binary; these tests
// use names no plugin would take, and register once however often they run
// (go test -count).
var (
	registerGlobals sync.Once
	alphaGot        chan Options
)

func registerCoretestGlobals() {
	registerGlobals.Do(func() {
		alphaGot = make(chan Options, 1)
		Register("coretest.alpha", "test handler", func(o Options) (Handler, error) {
			alphaGot <- o
			return HandlerFunc(func(*Request) Status { return Done }), nil
		})
		Register("coretest.broken", "fails to build", func(o Options) (Handler, error) {
			return nil, errors.New("option root is required")
		})
		RegisterProvider("coretest.users", "test provider", func(o Options) (PasswordProvider, error) {
			return &fakeProvider{users: map[string]string{o.String("user", ""): o.String("pass", "")}}, nil
		})
		RegisterProvider("coretest.badprov", "", func(Options) (PasswordProvider, error) {
			return nil, errors.New("file missing")
		})
	})
}

func TestNewHandlerGlobal(t *testing.T) {
	registerCoretestGlobals()
	assert.Contains(t, Handlers.Names(), "coretest.alpha")
	assert.Equal(t, "test handler", Handlers.Doc("coretest.alpha"))

	o := Options{Values: map[string]string{"k": "v"}, Dir: "/d"}
	h, err := NewHandler("coretest.alpha", o)
	require.NoError(t, err)
	assert.Equal(t, Done, h.Handle(&Request{}))
	assert.Equal(t, o, <-alphaGot)

	_, err = NewHandler("coretest.broken", Options{})
	require.Error(t, err)
	assert.Equal(t, "handler coretest.broken: option root is required", err.Error())

	_, err = NewHandler("coretest.nope", Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown handler "coretest.nope"`)
	assert.Contains(t, err.Error(), "coretest.alpha")
	assert.Contains(t, err.Error(), "coretest.broken")

	assert.Panics(t, func() { Register("coretest.alpha", "", okFactory) })
}

func TestNewProviderGlobal(t *testing.T) {
	registerCoretestGlobals()
	p, err := NewProvider("coretest.users", Options{Values: map[string]string{"user": "u", "pass": "p"}})
	require.NoError(t, err)
	res, err := p.CheckPassword(t.Context(), "u", "p")
	require.NoError(t, err)
	assert.Equal(t, Granted, res)

	_, err = NewProvider("coretest.badprov", Options{})
	assert.EqualError(t, err, "provider coretest.badprov: file missing")

	_, err = NewProvider("coretest.missing", Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown provider "coretest.missing"`)
	assert.Contains(t, err.Error(), "coretest.users")

	assert.PanicsWithValue(t, `anyhost: provider "coretest.users" registered twice`, func() {
		RegisterProvider("coretest.users", "", nil)
	})
	assert.Panics(t, func() { RegisterProvider("CoreTest", "", nil) })
}

// fakeProvider knows some users.
type fakeProvider struct{ users map[string]string }

func (p *fakeProvider) CheckPassword(_ context.Context, user, pass string) (AuthResult, error) {
	want, ok := p.users[user]
	switch {
	case !ok:
		return UserNotFound, nil
	case want == pass:
		return Granted, nil
	}
	return Denied, nil
}
