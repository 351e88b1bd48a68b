package testhost

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/handlers/demo"
)

// ResponsesSite answers with the responses a web server in front may
// rewrite: repeated headers, statuses without a body, redirects, error
// headers, a long streamed body.
const ResponsesSite = `
[[location]]
path = "/cookies"
content = [{handler = "demo.status", options = {status = "ok", header = "Set-Cookie: a=1; Path=/||Set-Cookie: b=2; Path=/", write = "two cookies"}}]

[[location]]
path = "/no-content"
content = [{handler = "demo.status", options = {status = "done", code = "204", header = "X-Kept: 1"}}]

[[location]]
path = "/not-modified"
content = [{handler = "demo.status", options = {status = "done", code = "304", header = "ETag: \"v1\""}}]

[[location]]
path = "/status-204"
content = [{handler = "demo.status", options = {status = "204"}}]

[[location]]
path = "/redirect"
content = [{handler = "demo.status", options = {status = "done", code = "302", header = "Location: /hello"}}]

[[location]]
path = "/redirect-status"
content = [{handler = "demo.status", options = {status = "301", header = "Location: /hello"}}]

[[location]]
path = "/denied"
content = [{handler = "demo.status", options = {status = "403", header = "X-Dropped: 1", err_header = "X-Err: kept||X-Err: twice"}}]

[[location]]
path = "/stream"
content = [{handler = "demo.stream", options = {chunks = "64", size = "65536"}}]

[[location]]
path = "/hello"
content = ["demo.hello"]
`

// ResponseCases are the answers ResponsesSite must give on every host.
var ResponseCases = []Case{
	{Name: "two Set-Cookie headers stay two", Run: func(t *testing.T, tg Target) {
		r := Do(t, "GET", tg.URL+"/cookies", nil, nil)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, []string{"a=1; Path=/", "b=2; Path=/"}, r.Header.Values("Set-Cookie"))
		assert.Equal(t, "two cookies", string(r.Body))
	}},
	{Name: "204 has no body", Run: func(t *testing.T, tg Target) {
		r := rawKeepAlive(t, tg, "/no-content")
		assert.Equal(t, http.StatusNoContent, r.Status)
		assert.Equal(t, "1", r.Header.Get("X-Kept"))
	}},
	{Name: "304 has no body", Run: func(t *testing.T, tg Target) {
		r := rawKeepAlive(t, tg, "/not-modified")
		assert.Equal(t, http.StatusNotModified, r.Status)
		assert.Equal(t, `"v1"`, r.Header.Get("ETag"))
	}},
	{Name: "204 returned as a status has no body", Run: func(t *testing.T, tg Target) {
		r := rawKeepAlive(t, tg, "/status-204")
		assert.Equal(t, http.StatusNoContent, r.Status)
	}},
	{Name: "redirect", Run: func(t *testing.T, tg Target) {
		r := Do(t, "GET", tg.URL+"/redirect", nil, nil)
		assert.Equal(t, http.StatusFound, r.Status)
		assert.Equal(t, "/hello", location(tg, r))
	}},
	{Name: "redirect returned as a status keeps Location", Run: func(t *testing.T, tg Target) {
		r := Do(t, "GET", tg.URL+"/redirect-status", nil, nil)
		assert.Equal(t, http.StatusMovedPermanently, r.Status)
		assert.Equal(t, "/hello", location(tg, r))
	}},
	{Name: "an error keeps err-headers, drops headers", Run: func(t *testing.T, tg Target) {
		r := Do(t, "GET", tg.URL+"/denied", nil, nil)
		assert.Equal(t, http.StatusForbidden, r.Status)
		assert.Equal(t, "kept, twice", strings.Join(r.Header.Values("X-Err"), ", "), "repeated, or joined as RFC 9110 allows")
		assert.Empty(t, r.Header.Values("X-Dropped"))
	}},
	{Name: "4 MiB streamed with Flush arrives whole", Run: func(t *testing.T, tg Target) {
		r := Do(t, "GET", tg.URL+"/stream", nil, nil)
		require.Equal(t, http.StatusOK, r.Status)
		want := make([]byte, 64*65536)
		for i := range want {
			want[i] = demo.StreamByte(i)
		}
		require.Equal(t, len(want), len(r.Body))
		assert.Equal(t, sha256.Sum256(want), sha256.Sum256(r.Body))
	}},
}

// RunResponses checks ResponseCases against a host serving ResponsesSite.
func RunResponses(t *testing.T, tg Target) {
	for _, c := range ResponseCases {
		runCase(t, tg, "responses", c.Name, c.Differs[tg.ID], func(t *testing.T) { c.Run(t, tg) })
	}
}

// rawKeepAlive sends GET path on a connection of its own and checks that
// the answer has no body: a second request on the same connection must be
// answered as its own (a body sent after a 204 or 304 would be read as the
// start of the next response).
func rawKeepAlive(t *testing.T, tg Target, path string) Response {
	t.Helper()
	c, err := dialRaw(tg.Addr)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, body)
	if resp.Close {
		return Response{resp.StatusCode, resp.Header, body}
	}
	fmt.Fprintf(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	next := readResponse(t, br, false)
	assert.Equal(t, http.StatusOK, next.Status, "the next response on the connection")
	assert.Equal(t, "Hello!", string(next.Body), "the next response on the connection")
	return Response{resp.StatusCode, resp.Header, body}
}

// location is a redirect's target as a path: a web server may make it
// absolute (RFC 9110 allows either).
func location(tg Target, r Response) string {
	l := r.Header.Get("Location")
	for _, prefix := range []string{tg.URL, "http://x", "http://" + tg.Addr} {
		if rest, ok := strings.CutPrefix(l, prefix); ok && rest != "" {
			return rest
		}
	}
	return l
}
