package testhost

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/handlers/demo"
)

// Target is a host serving the demo site, as the conformance table sees it.
type Target struct {
	// URL is the base URL, "http://127.0.0.1:PORT".
	URL string
	// Addr is HOST:PORT, for requests a Go client would not send.
	Addr string
	// Adapter is what /echo must report as "adapter".
	Adapter string
	// ID names the host in the conformance matrix ("apache-prefork"),
	// and Verdicts, if set, collects each case's outcome under it.
	ID       string
	Verdicts *Verdicts
}

// Case is one row of the conformance table: a request and the answer the
// demo site must give on every host.
type Case struct {
	Name string
	Run  func(t *testing.T, tg Target)
	// Differs gives, by host ID, why that host answers otherwise (Run
	// checks its answer): what the web server in front forces, with the
	// code comment that handles it. A difference of our own making is a
	// bug to fix, never an entry here.
	Differs map[string]string
}

// RunConformance runs every case against tg.
func RunConformance(t *testing.T, tg Target) {
	for _, c := range Cases {
		runCase(t, tg, "conformance", c.Name, c.Differs[tg.ID], func(t *testing.T) { c.Run(t, tg) })
	}
}

// Response is what a case checks.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

var client = &http.Client{
	Transport: newClientTransport(),
	Timeout:   30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Do sends a request with a Go client.
func Do(t testing.TB, method, url string, body io.Reader, header http.Header) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Response{resp.StatusCode, resp.Header, b}
}

// Raw writes request bytes as they are on a new connection and reads one
// response: for dot segments, malformed headers and other things Go's client
// would clean up.
func Raw(t testing.TB, addr, request string) Response {
	t.Helper()
	c, err := dialRaw(addr)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	_, err = io.WriteString(c, request)
	require.NoError(t, err)
	return readResponse(t, bufio.NewReader(c), strings.HasPrefix(request, "HEAD "))
}

func readResponse(t testing.TB, br *bufio.Reader, head bool) Response {
	t.Helper()
	method := "GET"
	if head {
		method = "HEAD"
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return Response{resp.StatusCode, resp.Header, b}
}

// EchoOf decodes an /echo answer, failing the test unless it is a 200.
func EchoOf(t testing.TB, r Response) demo.Echo {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var e demo.Echo
	require.NoError(t, json.Unmarshal(r.Body, &e), "body: %s", r.Body)
	return e
}

// NormalizeEcho removes exactly what DESIGN.md lets hosts differ in: the
// adapter, the port of remote_addr, and hop-by-hop headers.
func NormalizeEcho(e demo.Echo) demo.Echo {
	e.Adapter = ""
	if host, _, err := net.SplitHostPort(e.RemoteAddr); err == nil {
		e.RemoteAddr = host
	}
	h := http.Header{}
	for k, v := range e.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Connection", "Keep-Alive", "Transfer-Encoding":
		default:
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	e.Headers = h
	return e
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func basic(user, pass string) http.Header {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return req.Header
}

const challenge = `Basic realm="anyhost demo"`

func assertChallenge(t *testing.T, r Response) {
	t.Helper()
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, []string{challenge}, r.Header.Values("WWW-Authenticate"))
}

func assertAlive(t *testing.T, tg Target) {
	t.Helper()
	r := Do(t, "GET", tg.URL+"/hello", nil, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "Hello!", string(r.Body))
}

// Cases is the shared conformance table.
var Cases = []Case{
	{Name: "hello", Run: func(t *testing.T, tg Target) {
		r := Do(t, "GET", tg.URL+"/hello", nil, nil)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
		assert.Equal(t, "Hello!", string(r.Body))
	}},
	{Name: "HEAD has no body", Run: func(t *testing.T, tg Target) {
		r := Raw(t, tg.Addr, "HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
		assert.Empty(t, r.Body)
	}},
	{Name: "methods", Run: func(t *testing.T, tg Target) {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			e := EchoOf(t, Do(t, m, tg.URL+"/echo", nil, nil))
			assert.Equal(t, m, e.Method)
			assert.Equal(t, tg.Adapter, e.Adapter)
			assert.Equal(t, "/echo", e.Path)
		}
	}},
	{Name: "escaped and UTF-8 query", Run: func(t *testing.T, tg Target) {
		q := "q=%E2%9C%93&x=a%20b+c&empty=&amp=%26"
		e := EchoOf(t, Do(t, "GET", tg.URL+"/echo?"+q, nil, nil))
		assert.Equal(t, q, e.Query)
		assert.Equal(t, "/echo?"+q, e.URI)
		// Raw UTF-8 bytes, as some clients send them.
		e = EchoOf(t, Raw(t, tg.Addr, "GET /echo?name=J%C3%BCrgen&s=\u2713 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
		assert.Equal(t, "name=J%C3%BCrgen&s=\u2713", e.Query)
	}},
	{Name: "escaped path", Run: func(t *testing.T, tg Target) {
		e := EchoOf(t, Raw(t, tg.Addr, "GET /ech%6F/a%20b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
		assert.Equal(t, "/echo/a b", e.Path)
		assert.Equal(t, "/ech%6F/a%20b", e.URI)
	}},
	{Name: "request headers reach the handler", Run: func(t *testing.T, tg Target) {
		h := http.Header{"X-Anyhost-Test": {"one"}, "X-Multi": {"a", "b"}, "Accept-Language": {"de-CH, en;q=0.5"}}
		e := EchoOf(t, Do(t, "GET", tg.URL+"/echo", nil, h))
		assert.Equal(t, []string{"one"}, e.Headers.Values("X-Anyhost-Test"))
		assert.Equal(t, "a, b", strings.Join(e.Headers.Values("X-Multi"), ", "))
		assert.Equal(t, []string{"de-CH, en;q=0.5"}, e.Headers.Values("Accept-Language"))
	}},
	{Name: "bodies", Run: func(t *testing.T, tg Target) {
		big := make([]byte, 1<<20)
		_, err := rand.Read(big)
		require.NoError(t, err)
		for _, body := range [][]byte{{}, {0}, []byte("x"), big} {
			e := EchoOf(t, Do(t, "POST", tg.URL+"/echo", bytes.NewReader(body), http.Header{"Content-Type": {"application/octet-stream"}}))
			assert.Equal(t, int64(len(body)), e.BodyLength)
			assert.Equal(t, sha(body), e.BodySHA256)
		}
	}},
	{Name: "chunked body", Run: func(t *testing.T, tg Target) {
		body := bytes.Repeat([]byte("chunk-"), 50000)
		// An io.Reader of unknown length makes the client send chunks.
		e := EchoOf(t, Do(t, "POST", tg.URL+"/echo", io.MultiReader(bytes.NewReader(body)), nil))
		assert.Equal(t, int64(len(body)), e.BodyLength)
		assert.Equal(t, sha(body), e.BodySHA256)
		e = EchoOf(t, Raw(t, tg.Addr, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"))
		assert.Equal(t, int64(5), e.BodyLength)
		assert.Equal(t, sha([]byte("abcde")), e.BodySHA256)
	}},
	{Name: "Expect: 100-continue", Run: func(t *testing.T, tg Target) {
		c, err := dialRaw(tg.Addr)
		require.NoError(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "HTTP/1.1 100 Continue\r\n", line, "the host must ask for the body")
		blank, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "\r\n", blank)
		io.WriteString(c, "hello")
		e := EchoOf(t, readResponse(t, br, false))
		assert.Equal(t, int64(5), e.BodyLength)
		assert.Equal(t, sha([]byte("hello")), e.BodySHA256)
	}},
	{Name: "body over the limit refused before 100-continue", Run: func(t *testing.T, tg Target) {
		// The demo site's limit is the default 10 MiB: a host refuses a
		// larger declared body up front, without asking for it.
		c, err := dialRaw(tg.Addr)
		require.NoError(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", 10<<20+1)
		r := readResponse(t, bufio.NewReader(c), false)
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "no 100 Continue, no body read: %s", r.Body)
	}},
	{Name: "keep-alive", Run: func(t *testing.T, tg Target) {
		c, err := dialRaw(tg.Addr)
		require.NoError(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
			r := readResponse(t, br, false)
			assert.Equal(t, http.StatusOK, r.Status, "request %d on one connection", i+1)
			assert.Equal(t, "Hello!", string(r.Body))
		}
	}},
	{Name: "ignored POST body keeps the connection", Run: func(t *testing.T, tg Target) {
		// /hello never reads its body: the host must still read (or
		// discard) it, so that the next request on the connection is
		// parsed from its own first byte.
		c, err := dialRaw(tg.Addr)
		require.NoError(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		body := strings.Repeat("GET /private/ HTTP/1.1\r\nHost: x\r\n\r\n", 2000) // 70 KB that reads as requests if left unread
		fmt.Fprintf(c, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		r := readResponse(t, br, false)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "Hello!", string(r.Body))
		if r.Header.Get("Connection") == "close" {
			return // closed after it: as safe, the body cannot be misread
		}
		fmt.Fprintf(c, "GET /echo?second HTTP/1.1\r\nHost: x\r\n\r\n")
		r = readResponse(t, br, false)
		require.Equal(t, http.StatusOK, r.Status, "the next request on the connection: %s", r.Body)
		assert.Equal(t, "second", EchoOf(t, r).Query)
	}},
	{Name: "slow client", Run: func(t *testing.T, tg Target) {
		// A request that arrives a few bytes at a time, within every
		// host's timeouts, is served whole.
		c, err := dialRaw(tg.Addr)
		require.NoError(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		req := "POST /echo?slow=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789"
		for i := 0; i < len(req); i += 8 {
			_, err := io.WriteString(c, req[i:min(i+8, len(req))])
			require.NoError(t, err)
			time.Sleep(40 * time.Millisecond)
		}
		e := EchoOf(t, readResponse(t, bufio.NewReader(c), false))
		assert.Equal(t, int64(10), e.BodyLength)
		assert.Equal(t, sha([]byte("0123456789")), e.BodySHA256)
	}},
	{Name: "path tricks stay in their location", Run: func(t *testing.T, tg Target) {
		// Spellings of /private that a host may decode, merge or refuse:
		// none may reach the private content without credentials, and
		// the ones that are /private get its challenge.
		for _, p := range []string{"/%70rivate/", "/priv%61te/x", "//private/", "/private//x", "/x/../private/", "/%2e/private/"} {
			r := Raw(t, tg.Addr, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			assert.Contains(t, []int{http.StatusUnauthorized, http.StatusBadRequest, http.StatusNotFound}, r.Status, "GET %s: %s", p, r.Body)
			assert.NotContains(t, string(r.Body), "Hello, ", "GET %s", p)
		}
		for _, p := range []string{"/%70rivate/", "/x/../private/"} {
			r := Raw(t, tg.Addr, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			assert.Equal(t, http.StatusUnauthorized, r.Status, "GET %s is /private/", p)
		}
		// Not /private at all: another location (/ here), so no
		// challenge, but no private content either.
		for _, p := range []string{"/private;x", "/PRIVATE/", "/privatex", "/private%00"} {
			r := Raw(t, tg.Addr, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			assert.NotEqual(t, http.StatusOK, r.Status, "GET %s: %s", p, r.Body)
			assert.NotContains(t, string(r.Body), "Hello, ", "GET %s", p)
		}
		assertAlive(t, tg)
	}},
	{Name: "auth missing", Run: func(t *testing.T, tg Target) {
		assertChallenge(t, Do(t, "GET", tg.URL+"/private/", nil, nil))
	}},
	{Name: "auth wrong password", Run: func(t *testing.T, tg Target) {
		assertChallenge(t, Do(t, "GET", tg.URL+"/private/", nil, basic("demo", "wrong")))
	}},
	{Name: "auth unknown user", Run: func(t *testing.T, tg Target) {
		assertChallenge(t, Do(t, "GET", tg.URL+"/private/", nil, basic("nobody", "demo")))
	}},
	{Name: "auth right", Run: func(t *testing.T, tg Target) {
		r := Do(t, "GET", tg.URL+"/private/", nil, basic("demo", "demo"))
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "Hello, demo!", string(r.Body))
		r = Do(t, "GET", tg.URL+"/private", nil, basic("demo", "demo"))
		assert.Equal(t, "Hello, demo!", string(r.Body))
	}},
	{Name: "auth malformed", Run: func(t *testing.T, tg Target) {
		for _, v := range []string{"Basic !!!not-base64!!!", "Basic", "Basic ZGVtbw==" /* "demo", no colon */, "Basic    "} {
			assertChallenge(t, Do(t, "GET", tg.URL+"/private/", nil, http.Header{"Authorization": {v}}))
		}
	}},
	{Name: "auth other scheme", Run: func(t *testing.T, tg Target) {
		assertChallenge(t, Do(t, "GET", tg.URL+"/private/", nil, http.Header{"Authorization": {"Bearer eyJhbGciOiJub25lIn0.e30."}}))
	}},
	{Name: "forged identity ignored", Run: func(t *testing.T, tg Target) {
		h := basic("mallory", "x")
		h.Set("X-Remote-User", "admin")
		h.Set("Remote-User", "admin")
		e := EchoOf(t, Do(t, "GET", tg.URL+"/echo", nil, h))
		assert.Empty(t, e.User)
		assert.Empty(t, e.AuthType)
	}},
	{Name: "panic then alive", Run: func(t *testing.T, tg Target) {
		r := Do(t, "GET", tg.URL+"/panic", nil, nil)
		assert.Equal(t, http.StatusInternalServerError, r.Status)
		assertAlive(t, tg)
	}},
	{Name: "not found", Run: func(t *testing.T, tg Target) {
		assert.Equal(t, http.StatusNotFound, Do(t, "GET", tg.URL+"/no/such/thing", nil, nil).Status)
		// Prefixes match whole segments.
		assert.Equal(t, http.StatusNotFound, Do(t, "GET", tg.URL+"/hellothere", nil, nil).Status)
		assert.Equal(t, http.StatusNotFound, Do(t, "GET", tg.URL+"/private123", nil, nil).Status)
	}},
	{Name: "dot segments", Run: func(t *testing.T, tg Target) {
		// Removing dot segments must happen before locations match, so
		// /hello/../private/ is protected like /private/.
		for _, p := range []string{"/hello/../private/", "/hello/%2e%2e/private/", "/./private/", "/x/../private/y"} {
			r := Raw(t, tg.Addr, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			assert.Contains(t, []int{http.StatusUnauthorized, http.StatusBadRequest}, r.Status, "GET %s must not escape auth", p)
		}
		r := Raw(t, tg.Addr, "GET /private/../hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		assert.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, r.Status)
		if r.Status == http.StatusOK {
			assert.Equal(t, "Hello!", string(r.Body))
		}
		r = Raw(t, tg.Addr, "GET /../../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		assert.Contains(t, []int{http.StatusNotFound, http.StatusBadRequest}, r.Status)
		assert.NotContains(t, string(r.Body), "root:")
	}},
	{Name: "encoded slash", Run: func(t *testing.T, tg Target) {
		// Hosts either decode %2F before matching (then auth applies) or
		// refuse it (Apache's AllowEncodedSlashes Off: 404); never a way
		// around a location.
		r := Raw(t, tg.Addr, "GET /private%2Fx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusBadRequest}, r.Status)
		r = Raw(t, tg.Addr, "GET /hello%2F..%2Fprivate%2F HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusBadRequest}, r.Status)
	}},
	{Name: "oversized headers", Run: func(t *testing.T, tg Target) {
		// Hosts answer 431 (net/http) or 400 (Apache, nginx): both refuse.
		r := Raw(t, tg.Addr, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 200<<10)+"\r\nConnection: close\r\n\r\n")
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge}, r.Status)
		assertAlive(t, tg)
	}},
	{Name: "malformed request", Run: func(t *testing.T, tg Target) {
		r := Raw(t, tg.Addr, "GET /hello HTTP/1.1\r\nHost: x\r\nBad Header Line\r\nConnection: close\r\n\r\n")
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assertAlive(t, tg)
	}},
	{Name: "Content-Length with Transfer-Encoding closes", Run: func(t *testing.T, tg Target) {
		// RFC 9112 6.1: such a request may smuggle another; the host
		// answers it (chunked wins) or refuses it, and closes the
		// connection either way, so the pipelined GET is never served.
		c, err := dialRaw(tg.Addr)
		require.NoError(t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"3\r\nabc\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		r := readResponse(t, br, false)
		assert.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, r.Status)
		if r.Status == http.StatusOK {
			assert.Contains(t, string(r.Body), `"body_length": 3`)
		}
		rest, _ := io.ReadAll(br)
		assert.NotContains(t, string(rest), "Hello!", "the smuggled request was served")
	}},
	{Name: "duplicate Authorization is 400", Run: func(t *testing.T, tg Target) {
		// Which one auth checked and which one content sees must never
		// differ: every host refuses, as nginx does.
		good := basic("demo", "demo").Get("Authorization")
		bad := basic("mallory", "x").Get("Authorization")
		for _, path := range []string{"/private/", "/echo"} {
			for _, pair := range [][2]string{{good, bad}, {bad, good}, {good, good}} {
				r := Raw(t, tg.Addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\nAuthorization: "+pair[0]+
					"\r\nAuthorization: "+pair[1]+"\r\nConnection: close\r\n\r\n")
				assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", path, r.Body)
				assert.NotContains(t, string(r.Body), "Hello")
			}
		}
		assertAlive(t, tg)
	}},
	{Name: "absolute-form targets", Run: func(t *testing.T, tg Target) {
		// An absolute-form target gets the verdict its path gets in
		// origin-form (or 400): never another location's.
		raw := func(target string, h http.Header) Response {
			req := "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
			for k, vs := range h {
				for _, v := range vs {
					req += k + ": " + v + "\r\n"
				}
			}
			return Raw(t, tg.Addr, req+"\r\n")
		}
		for _, prefix := range []string{"http://127.0.0.1", "http://" + tg.Addr, "HTTP://LOCALHOST", "https://127.0.0.1:443",
			"http://other.example", "http://user@127.0.0.1"} {
			for _, p := range []string{"/private/", "/private", "/hello/../private/", "/x/%2e%2e/private/x"} {
				r := raw(prefix+p, nil)
				assert.Contains(t, []int{http.StatusUnauthorized, http.StatusBadRequest}, r.Status, "%s%s: %s", prefix, p, r.Body)
				r = raw(prefix+p, basic("demo", "demo"))
				assert.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, r.Status, "%s%s", prefix, p)
				if r.Status == http.StatusOK {
					assert.Equal(t, "Hello, demo!", string(r.Body), "%s%s", prefix, p)
				}
			}
			r := raw(prefix+"/echo/sub?q=1", nil)
			if assert.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, r.Status, prefix) && r.Status == http.StatusOK {
				e := EchoOf(t, r)
				assert.Equal(t, "/echo/sub", e.Path, prefix)
				assert.Equal(t, "q=1", e.Query, prefix)
			}
		}
	}},
	{Name: "long query and path", Run: func(t *testing.T, tg Target) {
		// Past what some hosts carry (~16 KiB in a FastCGI param), a host
		// answers 414, 400 or 431, or serves the request as it came: never
		// as another location.
		refused := []int{http.StatusRequestURITooLong, http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge}
		for _, n := range []int{4 << 10, 9 << 10, 17 << 10, 40 << 10} {
			q := "q=" + strings.Repeat("a", n)
			r := Raw(t, tg.Addr, "GET /private/?"+q+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			assert.Contains(t, append(refused, http.StatusUnauthorized), r.Status, "%d-byte query without credentials", n)
			r = Raw(t, tg.Addr, "GET /private/?"+q+" HTTP/1.1\r\nHost: x\r\nAuthorization: "+basic("demo", "demo").Get("Authorization")+
				"\r\nConnection: close\r\n\r\n")
			if assert.Contains(t, append(refused, http.StatusOK), r.Status, "%d-byte query", n) && r.Status == http.StatusOK {
				assert.Equal(t, "Hello, demo!", string(r.Body))
			}
			r = Raw(t, tg.Addr, "GET /echo?"+q+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if assert.Contains(t, append(refused, http.StatusOK), r.Status, "%d-byte query on /echo", n) && r.Status == http.StatusOK {
				assert.Equal(t, q, EchoOf(t, r).Query)
			}
			r = Raw(t, tg.Addr, "GET /private/"+strings.Repeat("p", n)+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			assert.Contains(t, append(refused, http.StatusUnauthorized, http.StatusForbidden), r.Status, "%d-byte path without credentials", n)
		}
		assertAlive(t, tg)
	}},
	{Name: "echo fields", Run: func(t *testing.T, tg Target) {
		e := EchoOf(t, Do(t, "POST", tg.URL+"/echo/sub?a=1", strings.NewReader("body"), http.Header{"Content-Type": {"text/plain"}}))
		assert.Equal(t, "POST", e.Method)
		assert.Equal(t, "/echo/sub?a=1", e.URI)
		assert.Equal(t, "/echo/sub", e.Path)
		assert.Equal(t, "a=1", e.Query)
		assert.Equal(t, int64(4), e.BodyLength)
		assert.Equal(t, "text/plain", e.Headers.Get("Content-Type"))
		host, port, err := net.SplitHostPort(e.RemoteAddr)
		if err != nil {
			host = e.RemoteAddr
		} else {
			assert.NotEmpty(t, port)
		}
		assert.Equal(t, "127.0.0.1", host)
		assert.Equal(t, tg.Adapter, e.Adapter)
	}},
}

// BasicHeader is an Authorization header for user:pass.
func BasicHeader(user, pass string) http.Header { return basic(user, pass) }

// EchoMatches sends the same requests to /echo on want (standalone) and
// got, and requires the same answers but for what DESIGN.md lets differ
// (NormalizeEcho).
func EchoMatches(t *testing.T, want, got string) {
	t.Helper()
	reqs := []struct {
		method, path, body string
		header             http.Header
	}{
		{"GET", "/echo", "", nil},
		{"GET", "/echo/a/b?x=1&y=%20z", "", http.Header{"X-Test": {"1"}, "Accept-Language": {"en"}}},
		{"POST", "/echo", "some body", http.Header{"Content-Type": {"text/plain"}}},
		{"PUT", "/echo?q=%E2%9C%93", strings.Repeat("x", 100000), nil},
		{"GET", "/echo", "", BasicHeader("mallory", "x")},
	}
	for _, q := range reqs {
		get := func(base string) any {
			var r Response
			if q.body != "" {
				r = Do(t, q.method, base+q.path, strings.NewReader(q.body), q.header)
			} else {
				r = Do(t, q.method, base+q.path, nil, q.header)
			}
			return NormalizeEcho(EchoOf(t, r))
		}
		assert.Equal(t, get(want), get(got), "%s %s", q.method, q.path)
	}
}
