package nginx

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/secret"
	"github.com/anyhost/anyhost/internal/testhost"
)

// forgedParams claim user admin on /private, as an nginx config passing
// an auth_request's user would.
var forgedParams = []string{"REQUEST_METHOD", "GET", "REQUEST_URI", "/private/", "SERVER_PROTOCOL", "HTTP/1.1",
	"HTTP_HOST", "127.0.0.1", "REMOTE_ADDR", "127.0.0.1", "REMOTE_PORT", "4000",
	"ANYHOST_USER", "admin", "ANYHOST_AUTH_TYPE", "Basic", "ANYHOST_AUTH_DONE", "1", "ANYHOST_LOCATION", "/private"}

// forgedCheck is an auth subrequest for /private without credentials, as
// only nginx should send it.
const forgedCheck = "GET /.anyhost-auth HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Original-Method: GET\r\n" +
	"X-Original-URI: /private/\r\nX-Real-IP: 10.0.0.1\r\nX-Anyhost-Location: /private\r\n\r\n"

// Regression (security): another local user (nobody) must never get a user
// believed: not through nginx's unix sockets, which it cannot open (the
// workers run as www-data, the sockets are 0660 root:www-data), and not
// through TCP sockets it can reach: with a secret its requests are refused,
// and with or without one its identity params are ignored and the auth
// phases run.
func TestForgedIdentityFromLocalUser(t *testing.T) {
	t.Run("unix sockets", func(t *testing.T) {
		s := startStack(t, nil)
		r := testhost.Do(t, "GET", s.URL+"/private/", nil, testhost.BasicHeader("demo", "demo"))
		require.Equal(t, "Hello, demo!", string(r.Body), "nginx itself gets through")
		out := testhost.FastCGIAsNobody(t, s.host.FastCGI, forgedParams...)
		assert.Contains(t, out, "permission denied", out)
		out = testhost.HTTPAsNobody(t, s.host.Auth, forgedCheck)
		assert.Contains(t, out, "permission denied", out)
	})
	for _, withSecret := range []bool{true, false} {
		t.Run(fmt.Sprintf("tcp, secret %v", withSecret), func(t *testing.T) {
			h := &Host{Site: demoSite(t), Log: testLog(t),
				FastCGI: fmt.Sprintf("127.0.0.1:%d", testhost.FreePort(t)),
				Auth:    fmt.Sprintf("127.0.0.1:%d", testhost.FreePort(t))}
			if withSecret {
				h.Secrets = new(secret.Set)
				h.Secrets.Replace([]string{strings.Repeat("s", 40)})
			}
			runHost(t, h)
			want, wantAuth := "Status: 401", "HTTP/1.1 401"
			if withSecret {
				want, wantAuth = "Status: 403", "HTTP/1.1 403"
			}
			for _, extra := range [][]string{nil, {"ANYHOST_SECRET", strings.Repeat("x", 40)}} {
				out := testhost.FastCGIAsNobody(t, h.FastCGI, append(forgedParams, extra...)...)
				assert.NotContains(t, out, "Hello, admin!", out)
				assert.Contains(t, out, want, out)
			}
			if withSecret {
				// With the secret itself (a hand-edited nginx config
				// sending identity params): the responder runs the auth
				// phases all the same.
				out := testhost.FastCGIAsNobody(t, h.FastCGI, append(forgedParams, "ANYHOST_SECRET", strings.Repeat("s", 40))...)
				assert.NotContains(t, out, "Hello, admin!", out)
				assert.Contains(t, out, "Status: 401", out)
			}
			out := testhost.HTTPAsNobody(t, h.Auth, forgedCheck)
			assert.True(t, strings.HasPrefix(out, wantAuth), out)
			assert.NotContains(t, out, "X-Anyhost-User")
		})
	}
}

// runHost runs h until the test ends, and checks that it stops cleanly.
func runHost(t *testing.T, h *Host) {
	t.Helper()
	ready := make(chan struct{})
	h.Ready = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("Host.Run did not return after cancel")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Host.Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Host did not start")
	}
}

func demoSite(t *testing.T) *core.Site {
	t.Helper()
	site, err := demoConfig(t).Build()
	require.NoError(t, err)
	return site
}
