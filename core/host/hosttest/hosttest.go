// Package hosttest makes core.Requests for tests of handlers and providers,
// as net/http/httptest does for http.Handlers: no server, a recorder for
// the response.
package hosttest

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
)

// NewRequest returns a Request for method and target (origin-form, as on
// the request line) from 192.0.2.1:1234, bound to a fresh recorder. A
// target that does not parse panics: tests give good ones.
func NewRequest(method, target string, body io.Reader) (*core.Request, *httptest.ResponseRecorder) {
	return NewRequestLog(method, target, body, nil)
}

// NewRequestLog is NewRequest with the request's logger.
func NewRequestLog(method, target string, body io.Reader, log *zerolog.Logger) (*core.Request, *httptest.ResponseRecorder) {
	hr := httptest.NewRequest(method, target, body)
	t, err := host.ParseTarget(hr.RequestURI)
	if err != nil {
		panic("hosttest: " + err.Error())
	}
	r := &core.Request{
		Method: hr.Method, URI: hr.RequestURI, Path: t.Path, RawQuery: t.RawQuery,
		Proto: hr.Proto, Host: hr.Host, Scheme: "http", RemoteAddr: hr.RemoteAddr,
		Header: hr.Header, Body: hr.Body, ContentLength: hr.ContentLength,
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	w := httptest.NewRecorder()
	host.Bind(r, w, hr.Context(), log)
	return r, w
}

// RequestWithAuth is a GET of target carrying authorization as its
// Authorization header (none when it is empty).
func RequestWithAuth(target, authorization string) *core.Request {
	r, _ := NewRequest("GET", target, nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

// BasicAuth is the Authorization header value of Basic credentials.
func BasicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// Provider is a core.PasswordProvider over a table of users, for tests of
// provider chains: it records the users it was asked about, and with Err
// set it fails as a broken back end does.
type Provider struct {
	Users map[string]string
	Err   error

	mu    sync.Mutex
	calls []string
}

// CheckPassword implements core.PasswordProvider.
func (p *Provider) CheckPassword(_ context.Context, user, pass string) (core.AuthResult, error) {
	p.mu.Lock()
	p.calls = append(p.calls, user)
	p.mu.Unlock()
	if p.Err != nil {
		return core.Denied, p.Err
	}
	want, ok := p.Users[user]
	switch {
	case !ok:
		return core.UserNotFound, nil
	case want == pass:
		return core.Granted, nil
	}
	return core.Denied, nil
}

// Called is how many times CheckPassword ran.
func (p *Provider) Called() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// GroupProvider is a Provider that also lists groups (core.GroupLister).
type GroupProvider struct {
	Provider
	GroupsOf  map[string][]string
	GroupsErr error
}

// Groups implements core.GroupLister.
func (p *GroupProvider) Groups(_ context.Context, user string) ([]string, error) {
	return p.GroupsOf[user], p.GroupsErr
}

// LogBuffer collects a logger's lines; safe for loggers used by server
// goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// NewLogger returns a logger writing JSON lines into a LogBuffer.
func NewLogger() (*zerolog.Logger, *LogBuffer) {
	buf := &LogBuffer{}
	l := zerolog.New(buf)
	return &l, buf
}
