package basic_test

import (
	"context"
	"encoding/base64"
	"sync"

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

func authReq(header string) *core.Request {
	r, _ := hosttest.NewRequest("GET", "/private/x", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	return r
}
