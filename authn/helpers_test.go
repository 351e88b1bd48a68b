package authn_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host/hosttest"
)

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// fakeProvider knows some users; it records the calls it gets.
type fakeProvider struct {
	users map[string]string
	err   error
	mu    sync.Mutex
	calls []string
}

func (p *fakeProvider) CheckPassword(_ context.Context, user, pass string) (core.AuthResult, error) {
	p.mu.Lock()
	p.calls = append(p.calls, user)
	p.mu.Unlock()
	if p.err != nil {
		return core.Denied, p.err
	}
	want, ok := p.users[user]
	switch {
	case !ok:
		return core.UserNotFound, nil
	case want == pass:
		return core.Granted, nil
	}
	return core.Denied, nil
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

func authReq(header string) *core.Request {
	r, _ := hosttest.NewRequest("GET", "/private/x", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	return r
}

// trace records which handlers ran, in order. It is safe for use from a
// server goroutine.
type trace struct {
	mu  sync.Mutex
	ran []string
}

func (t *trace) add(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ran = append(t.ran, name)
}

func (t *trace) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.ran...)
}

func (t *trace) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ran = nil
}

// fn returns a handler that records name and then runs f.
func (t *trace) fn(name string, f func(r *core.Request) core.Status) core.Handler {
	return core.HandlerFunc(func(r *core.Request) core.Status {
		t.add(name)
		return f(r)
	})
}

// newSite builds a site or fails the test.
func newSite(t testing.TB, locs ...*core.Location) *core.Site {
	t.Helper()
	s, err := core.NewSite(locs)
	require.NoError(t, err)
	return s
}

// at builds a location with handlers per phase.
func at(prefix string, hs map[core.Phase][]core.Handler) *core.Location {
	l := &core.Location{Prefix: prefix}
	for p, h := range hs {
		l.Handlers[p] = h
	}
	return l
}

// newLogger returns a logger writing JSON lines into a buffer.
func newLogger() (*zerolog.Logger, *bytes.Buffer) {
	buf := &bytes.Buffer{}
	l := zerolog.New(buf)
	return &l, buf
}

// get performs a GET through a test server and returns status, headers and body.
func get(t testing.TB, c *http.Client, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b.String()
}
