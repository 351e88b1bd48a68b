package core

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core/internal/link"
)

// contentSite is a site whose only handler is h, on content at "/".
func contentSite(t testing.TB, h Handler) *Site {
	return newSite(t, at("/", map[Phase][]Handler{Content: {h}}))
}

func TestSiteAsPlainNetHTTPHandler(t *testing.T) {
	var seen Request
	var body string
	s := contentSite(t, HandlerFunc(func(r *Request) Status {
		seen = *r
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return StatusForError(err)
		}
		body = string(b)
		r.ResponseHeader.Set("Content-Type", "text/plain; charset=utf-8")
		r.WriteString("Hello!")
		return OK
	}))
	// A plain net/http server, no httptest wrapper.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	base := "http://" + ln.Addr().String()
	req, err := http.NewRequest("POST", base+"/a%20b/./c?x=1&y=%20", strings.NewReader("payload"))
	require.NoError(t, err)
	req.Header.Set("X-Test", "yes")
	st, h, got := do(t, http.DefaultClient, req)
	assert.Equal(t, http.StatusOK, st)
	assert.Equal(t, "Hello!", got)
	assert.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))

	assert.Equal(t, "POST", seen.Method)
	assert.Equal(t, "/a%20b/./c?x=1&y=%20", seen.URI, "URI is unparsed")
	assert.Equal(t, "/a b/c", seen.Path, "Path is decoded and cleaned")
	assert.Equal(t, "x=1&y=%20", seen.RawQuery)
	assert.Equal(t, "HTTP/1.1", seen.Proto)
	assert.Equal(t, ln.Addr().String(), seen.Host)
	assert.Equal(t, "http", seen.Scheme)
	host, port, err := net.SplitHostPort(seen.RemoteAddr)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEmpty(t, port)
	assert.Equal(t, "yes", seen.Header.Get("X-Test"))
	assert.Equal(t, int64(7), seen.ContentLength)
	assert.Equal(t, "payload", body)
	assert.Equal(t, "net/http", seen.Adapter)
	assert.Equal(t, Initial, seen.Kind)
}

func TestSiteOverTLS(t *testing.T) {
	var scheme, https string
	s := contentSite(t, HandlerFunc(func(r *Request) Status {
		scheme, https = r.Scheme, r.Env()["HTTPS"]
		return OK
	}))
	srv := httptest.NewTLSServer(s)
	defer srv.Close()
	st, _, _ := get(t, srv.Client(), srv.URL+"/")
	assert.Equal(t, http.StatusOK, st)
	assert.Equal(t, "https", scheme)
	assert.Equal(t, "on", https)
}

func TestFromHTTPHandler(t *testing.T) {
	tests := []struct {
		name   string
		h      http.HandlerFunc
		status int
		header map[string]string
		body   string
	}{
		{"status, headers and body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-From", "net/http")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"ok":true}`)
		}, 201, map[string]string{"X-From": "net/http", "Content-Type": "application/json"}, `{"ok":true}`},
		{"never writes: 200", func(http.ResponseWriter, *http.Request) {}, 200, nil, ""},
		{"write without WriteHeader: 200", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "implicit")
		}, 200, nil, "implicit"},
		{"second WriteHeader ignored", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "x")
		}, 202, nil, "x"},
		{"http.Error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", http.StatusForbidden)
		}, 403, map[string]string{"Content-Type": "text/plain; charset=utf-8"}, "nope\n"},
		{"http.NotFound", http.NotFound, 404, nil, "404 page not found\n"},
		{"sees the request", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.Path, r.URL.Query().Get("q"), r.Header.Get("X-In"))
		}, 200, nil, "GET /sub/path v in"},
		{"flushes", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
			assert.NoError(t, http.NewResponseController(w).Flush())
		}, 200, nil, "ab"},
		{"err headers still sent", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "x")
		}, 200, map[string]string{"X-Err": "kept"}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, at("/", map[Phase][]Handler{
				Fixup:   {HandlerFunc(func(r *Request) Status { r.ErrHeader().Set("X-Err", "kept"); return OK })},
				Content: {FromHTTPHandler(tt.h)},
			}))
			check := func(t *testing.T, st int, h http.Header, body string) {
				assert.Equal(t, tt.status, st)
				assert.Equal(t, tt.body, body)
				for k, v := range tt.header {
					assert.Equal(t, v, h.Get(k), k)
				}
			}
			t.Run("net/http", func(t *testing.T) {
				srv := httptest.NewServer(s)
				defer srv.Close()
				st, h, body := get(t, srv.Client(), srv.URL+"/sub/path?q=v", "X-In", "in")
				check(t, st, h, body)
			})
			t.Run("fields", func(t *testing.T) {
				// A request a non-net/http host built from its own fields.
				r := &Request{
					Method: "GET", URI: "/sub/path?q=v", Path: "/sub/path", RawQuery: "q=v",
					Proto: "HTTP/1.1", Host: "example.test", Scheme: "http", RemoteAddr: "192.0.2.1:5555",
					Header: http.Header{"X-In": {"in"}}, Body: http.NoBody, Adapter: "fake",
				}
				w := httptest.NewRecorder()
				r.bind(w, context.Background(), nil)
				s.Serve(r)
				res := w.Result()
				check(t, res.StatusCode, res.Header, w.Body.String())
			})
		})
	}
}

func TestHTTPRequestViewFromFields(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &Request{
		Method: "POST", URI: "/a%20b?x=1&y=2", Path: "/a b", RawQuery: "x=1&y=2",
		Proto: "HTTP/1.0", Host: "example.test:8080", Scheme: "http", RemoteAddr: "192.0.2.1:5555",
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: strings.NewReader("body!"), ContentLength: 5,
	}
	r.bind(httptest.NewRecorder(), ctx, nil)
	hr := r.HTTPRequest()
	require.NotNil(t, hr)
	assert.Equal(t, "POST", hr.Method)
	assert.Equal(t, "/a b", hr.URL.Path)
	assert.Equal(t, "x=1&y=2", hr.URL.RawQuery)
	assert.Equal(t, "2", hr.URL.Query().Get("y"))
	assert.Equal(t, "/a%20b?x=1&y=2", hr.RequestURI)
	assert.Equal(t, "HTTP/1.0", hr.Proto)
	assert.Equal(t, 1, hr.ProtoMajor)
	assert.Equal(t, 0, hr.ProtoMinor)
	assert.Equal(t, "example.test:8080", hr.Host)
	assert.Equal(t, "192.0.2.1:5555", hr.RemoteAddr)
	assert.Equal(t, "text/plain", hr.Header.Get("Content-Type"))
	assert.Equal(t, int64(5), hr.ContentLength)
	assert.Equal(t, ctx, hr.Context())
	b, err := io.ReadAll(hr.Body)
	require.NoError(t, err)
	assert.Equal(t, "body!", string(b))
	assert.NoError(t, hr.Body.Close())
	assert.Same(t, hr, r.HTTPRequest(), "built once")

	// A URI that does not parse falls back to Path and RawQuery.
	r2 := &Request{Method: "GET", URI: "", Path: "/p", RawQuery: "q=1", Proto: "HTTP/1.1", Body: http.NoBody}
	hr2 := r2.HTTPRequest()
	assert.Equal(t, "/p", hr2.URL.Path)
	assert.Equal(t, "q=1", hr2.URL.RawQuery)
	assert.Equal(t, context.Background(), hr2.Context())
}

func TestHTTPRequestViewOnNetHTTPIsOriginal(t *testing.T) {
	hr := httptest.NewRequest("GET", "/x?y=1", nil)
	r := &Request{}
	fromHTTP(r, hr)
	assert.Same(t, hr, r.HTTPRequest())
}

func TestFromHTTPFields(t *testing.T) {
	// A request built by a client (no RequestURI) still gets a URI.
	hr, err := http.NewRequest("GET", "http://example.test/a/../b?q=1", nil)
	require.NoError(t, err)
	r := &Request{}
	fromHTTP(r, hr)
	assert.Equal(t, "/a/../b?q=1", r.URI)
	assert.Equal(t, "/b", r.Path)
	assert.Equal(t, "q=1", r.RawQuery)
	assert.Equal(t, "example.test", r.Host)
	assert.Equal(t, http.NoBody, r.Body, "Body is never nil")
}

func TestBodyLimitContentLength(t *testing.T) {
	tr := &trace{}
	phases := map[Phase][]Handler{}
	for _, p := range Phases() {
		if !p.SiteOnly() {
			phases[p] = []Handler{tr.h(p.String(), OK)}
		}
		if p == Authn {
			phases[p] = []Handler{tr.fn(p.String(), func(r *Request) Status { r.User = "u"; return OK })}
		}
	}
	s := newSite(t, at("/", phases))
	s.PostReadRequest = []Handler{tr.h("post-read-request", OK)}
	s.Translate = []Handler{tr.h("translate", Declined)}
	s.Limits.MaxBody = 16
	srv := httptest.NewServer(s)
	defer srv.Close()

	tests := []struct {
		name   string
		body   string
		status int
		ran    []string
	}{
		{"over the limit: 413 before any phase, log still runs", strings.Repeat("x", 1000), 413, []string{"log"}},
		{"one byte over", strings.Repeat("x", 17), 413, []string{"log"}},
		{"exactly at the limit", strings.Repeat("x", 16), 200, names(Phases()...)},
		{"empty", "", 200, names(Phases()...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr.reset()
			req, err := http.NewRequest("POST", srv.URL+"/upload", strings.NewReader(tt.body))
			require.NoError(t, err)
			require.Equal(t, int64(len(tt.body)), req.ContentLength)
			st, h, body := do(t, srv.Client(), req)
			assert.Equal(t, tt.status, st)
			if tt.status == 413 {
				assert.Equal(t, "413 Request Entity Too Large\n", body)
				assert.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
			}
			assert.Equal(t, tt.ran, tr.get())
		})
	}
}

func TestBodyLimitDefault(t *testing.T) {
	assert.Equal(t, int64(10<<20), Limits{}.WithDefaults().MaxBody)
	l := Limits{MaxBody: 5, IdleTimeout: time.Second}.WithDefaults()
	assert.Equal(t, int64(5), l.MaxBody)
	assert.Equal(t, 64<<10, l.MaxHeader)
	assert.Equal(t, 10*time.Second, l.ReadHeaderTimeout)
	assert.Equal(t, 60*time.Second, l.ReadTimeout)
	assert.Equal(t, time.Duration(0), l.WriteTimeout)
	assert.Equal(t, time.Second, l.IdleTimeout)
}

// chunked returns a POST whose body length is unknown, so it is sent chunked.
func chunked(t *testing.T, url, body string) *http.Request {
	req, err := http.NewRequest("POST", url, io.NopCloser(strings.NewReader(body)))
	require.NoError(t, err)
	req.ContentLength = -1
	return req
}

func TestBodyLimitChunked(t *testing.T) {
	var readErr error
	var got int
	s := contentSite(t, HandlerFunc(func(r *Request) Status {
		assert.Equal(t, int64(-1), r.ContentLength)
		b, err := io.ReadAll(r.Body)
		got, readErr = len(b), err
		if err != nil {
			return StatusForError(err)
		}
		r.WriteString(fmt.Sprint(len(b)))
		return OK
	}))
	s.Limits.MaxBody = 16
	srv := httptest.NewServer(s)
	defer srv.Close()

	st, _, body := do(t, srv.Client(), chunked(t, srv.URL+"/", strings.Repeat("y", 1000)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, st)
	assert.Equal(t, "413 Request Entity Too Large\n", body)
	require.Error(t, readErr)
	var mbe *http.MaxBytesError
	assert.ErrorAs(t, readErr, &mbe)
	assert.LessOrEqual(t, got, 16)

	st, _, body = do(t, srv.Client(), chunked(t, srv.URL+"/", strings.Repeat("y", 16)))
	assert.Equal(t, http.StatusOK, st)
	assert.Equal(t, "16", body)
}

// An http.Handler run as content reads the body through the *http.Request
// view; the site's body limit must hold there too.
func TestBodyLimitChunkedThroughHTTPHandler(t *testing.T) {
	var got int
	s := contentSite(t, FromHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := io.ReadAll(req.Body)
		got = len(b)
		if err != nil {
			w.WriteHeader(int(StatusForError(err)))
			return
		}
		fmt.Fprint(w, len(b))
	})))
	s.Limits.MaxBody = 16
	srv := httptest.NewServer(s)
	defer srv.Close()

	st, _, _ := do(t, srv.Client(), chunked(t, srv.URL+"/", strings.Repeat("y", 1000)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, st)
	assert.LessOrEqual(t, got, 16, "the handler read past the body limit")
}

func TestStatusForError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Status
	}{
		{"MaxBytesError", &http.MaxBytesError{Limit: 10}, 413},
		{"wrapped MaxBytesError", fmt.Errorf("reading: %w", &http.MaxBytesError{Limit: 10}), 413},
		{"ErrBodyTooLarge", ErrBodyTooLarge, 413},
		{"wrapped ErrBodyTooLarge", fmt.Errorf("fastcgi: %w", ErrBodyTooLarge), 413},
		{"unexpected EOF", io.ErrUnexpectedEOF, 400},
		{"wrapped unexpected EOF", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), 400},
		// net/http's chunked errors are unexported: the bridge's body
		// reader types them, and no error text decides.
		{"malformed chunked", fmt.Errorf("%w: %w", ErrBodyMalformed, errors.New("http: malformed chunked encoding")), 400},
		{"text alone", errors.New("chunk of the disk failed"), 500},
		{"other", errors.New("disk on fire"), 500},
		{"EOF", io.EOF, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, StatusForError(tt.err))
		})
	}
}

// TestStatusForErrorFromServer sends broken bodies over a raw connection:
// StatusForError must call each a client error (400), as its doc says.
func TestStatusForErrorFromServer(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		closeSend bool
	}{
		{"malformed chunk trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX", false},
		{"truncated Content-Length body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", true},
		{"truncated chunked body", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", true},
		// net/http's other chunked-reader errors are client errors too.
		{"invalid chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false},
		{"chunk size too large", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", false},
		{"chunk line too long", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
			strings.Repeat("x", 5000) + "\r\n", false},
	}
	for _, view := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if view {
				name += " via HTTPRequest" // the *http.Request view's Body is typed too
			}
			t.Run(name, func(t *testing.T) {
				errs := make(chan error, 1)
				s := contentSite(t, HandlerFunc(func(r *Request) Status {
					body := r.Body
					if view {
						body = r.HTTPRequest().Body
					}
					_, err := io.ReadAll(body)
					errs <- err
					if err != nil {
						return StatusForError(err)
					}
					return OK
				}))
				srv := httptest.NewServer(s)
				defer srv.Close()
				conn, err := net.Dial("tcp", srv.Listener.Addr().String())
				require.NoError(t, err)
				defer conn.Close()
				_, err = io.WriteString(conn, tt.raw)
				require.NoError(t, err)
				if tt.closeSend {
					require.NoError(t, conn.(*net.TCPConn).CloseWrite())
				}
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				require.NoError(t, err)
				resp.Body.Close()
				readErr := <-errs
				require.Error(t, readErr)
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "body read error: %v", readErr)
			})
		}
	}
}

func TestPooledRequestsDoNotLeak(t *testing.T) {
	// Sequential requests through the pool: nothing set by one request is
	// seen by the next.
	type view struct {
		note, user, errHdr, env string
		status                  int
		phase                   Phase
	}
	views := make(chan view, 10)
	s := newSite(t, at("/", map[Phase][]Handler{
		HeaderParser: {HandlerFunc(func(r *Request) Status {
			views <- view{r.Note("n"), r.User, r.ErrHeader().Get("X-E"), r.Env()["REMOTE_USER"], r.Status, r.Phase()}
			return OK
		})},
		Content: {HandlerFunc(func(r *Request) Status {
			r.SetNote("n", "set")
			r.User = "leak"
			r.ErrHeader().Set("X-E", "leak")
			r.Env()["REMOTE_USER"] = "leak"
			r.Status = http.StatusTeapot
			return OK
		})},
	}))
	srv := httptest.NewServer(s)
	defer srv.Close()
	for i := 0; i < 5; i++ {
		st, h, _ := get(t, srv.Client(), srv.URL+"/")
		assert.Equal(t, http.StatusTeapot, st)
		assert.Equal(t, []string{"leak"}, h.Values("X-E"), "err header sent once")
		assert.Equal(t, view{phase: HeaderParser}, <-views)
	}
}

type ctxKey struct{}

func TestRequestBasics(t *testing.T) {
	r := &Request{}
	assert.Equal(t, context.Background(), r.Context())
	require.NotNil(t, r.Log())
	r.Log().Info().Msg("goes nowhere")
	assert.Equal(t, 200, r.StatusCode())
	assert.Empty(t, r.Note("x"))
	assert.Nil(t, r.Notes())

	w := httptest.NewRecorder()
	ctx := context.WithValue(context.Background(), ctxKey{}, 1)
	r.bind(w, ctx, nil)
	assert.Equal(t, ctx, r.Context())
	r.SetNote("a", "1")
	r.SetNote("a", "2")
	assert.Equal(t, "2", r.Note("a"))
	assert.Equal(t, map[string]string{"a": "2"}, r.Notes())
	r.ErrHeader().Add("X-A", "1")
	assert.Equal(t, "1", r.ErrHeader().Get("X-A"), "the same map on each call")

	assert.False(t, r.ResponseStarted())
	r.Status = http.StatusPartialContent
	r.ResponseHeader.Set("X-R", "r")
	require.NoError(t, r.Flush())
	assert.True(t, r.ResponseStarted())
	assert.True(t, w.Flushed)
	assert.Equal(t, http.StatusPartialContent, w.Code)
	n, err := r.Write([]byte("abc"))
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	n, err = r.WriteString("de")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, int64(5), r.BytesWritten())
	assert.Equal(t, "abcde", w.Body.String())
	assert.Equal(t, "1", w.Header().Get("X-A"))
	assert.Equal(t, "r", w.Header().Get("X-R"))

	// Reset keeps the maps but empties them.
	notes := r.Notes()
	r.reset()
	assert.Equal(t, Request{st: link.State{ErrHeader: http.Header{}, Notes: map[string]string{}}}, *r)
	r.SetNote("b", "1")
	notes["b"] = "shared"
	assert.Equal(t, "shared", r.Note("b"), "the notes map is reused")
}
