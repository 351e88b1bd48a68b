// Package hosttest makes core.Requests for tests of handlers and providers,
// as net/http/httptest does for http.Handlers: no server, a recorder for
// the response.
package hosttest

import (
	"io"
	"net/http"
	"net/http/httptest"

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
