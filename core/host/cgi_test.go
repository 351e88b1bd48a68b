package host_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
)

func TestRequestFromCGI(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, r *core.Request)
		err   error
	}{
		{"nginx", map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/a/../b%20c/?x=1", "QUERY_STRING": "x=1",
			"HTTP_HOST": "h.test", "HTTPS": "on", "REMOTE_ADDR": "::1", "REMOTE_PORT": "5", "HTTP_X_FOO_BAR": "v",
			"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "3", "REMOTE_USER": "mallory"},
			func(t *testing.T, r *core.Request) {
				assert.Equal(t, "/b c/", r.Path)
				assert.Equal(t, "x=1", r.RawQuery)
				assert.Equal(t, "h.test", r.Host)
				assert.Equal(t, "https", r.Scheme)
				assert.Equal(t, "[::1]:5", r.RemoteAddr)
				assert.Equal(t, "v", r.Header.Get("X-Foo-Bar"))
				assert.Equal(t, "text/plain", r.Header.Get("Content-Type"))
				assert.Equal(t, int64(3), r.ContentLength)
				assert.Empty(t, r.Header.Get("Host"))
				assert.Empty(t, r.User)
				assert.NotContains(t, r.Env(), "REMOTE_USER")
			}, nil},
		{"no Host header", map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/s/p?q", "QUERY_STRING": "q",
			"SERVER_NAME": "n", "SERVER_PORT": "8080"},
			func(t *testing.T, r *core.Request) {
				assert.Equal(t, "/s/p?q", r.URI)
				assert.Equal(t, "n:8080", r.Host)
				assert.Equal(t, int64(-1), r.ContentLength)
			}, nil},
		// Apache passes an absolute-form target as it came; the path is
		// the one Apache matched its <Location> on, never /http:/...
		{"absolute-form", map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "http://127.0.0.1/admin/?a=1",
			"QUERY_STRING": "stale", "HTTP_HOST": "other"},
			func(t *testing.T, r *core.Request) {
				assert.Equal(t, "http://127.0.0.1/admin/?a=1", r.URI)
				assert.Equal(t, "/admin/", r.Path)
				assert.Equal(t, "a=1", r.RawQuery, "the target's own query")
				assert.Equal(t, "127.0.0.1", r.Host, "RFC 9112 3.2.2")
				assert.Equal(t, "/admin/", r.HTTPRequest().URL.Path)
			}, nil},
		// Regression (security): REQUEST_URI dropped by the web server
		// (too long) was rebuilt from SCRIPT_NAME+PATH_INFO.
		{"no REQUEST_URI", map[string]string{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/s", "PATH_INFO": "/admin/",
			"QUERY_STRING": "q"}, nil, host.ErrNoRequestURI},
		{"authority-form", map[string]string{"REQUEST_METHOD": "CONNECT", "REQUEST_URI": "h:443"}, nil, host.ErrRequestURI},
		{"no method", map[string]string{}, nil, host.ErrNoMethod},
		// Only the CGI adapter believes the web server's REMOTE_USER.
		{"trusted REMOTE_USER", map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "REMOTE_USER": "ann",
			"AUTH_TYPE": "Basic"}, func(t *testing.T, r *core.Request) {
			assert.Equal(t, "ann", r.User)
			assert.Equal(t, "Basic", r.AuthType)
			assert.Equal(t, "ann", r.Env()["REMOTE_USER"])
		}, nil},
		// Credentials reach the header, never Env() (nor does HTTP_PROXY).
		{"hidden from Env", map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/",
			"HTTP_AUTHORIZATION": "Basic eDp5", "HTTP_PROXY": "http://evil.test"},
			func(t *testing.T, r *core.Request) {
				assert.Equal(t, "Basic eDp5", r.Header.Get("Authorization"))
				assert.NotContains(t, r.Env(), "HTTP_AUTHORIZATION")
				assert.NotContains(t, r.Env(), "HTTP_PROXY")
			}, nil},
		{"bad escape", map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/%zz"}, nil, host.ErrRequestURI},
		{"bad length", map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "CONTENT_LENGTH": "-1"}, nil, host.ErrContentLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r core.Request
			err := host.RequestFromCGI(&r, tt.env, host.CGIOptions{TrustRemoteUser: tt.name == "trusted REMOTE_USER"})
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			tt.check(t, &r)
		})
	}
}
