package core

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeline builds a site with one recording handler per phase (named after
// the phase). Every handler does its ordinary job (authn sets a user, content
// writes "content"), except the one on phase `on`, which runs f.
func pipeline(tr *trace, on Phase, f func(r *Request) Status) *Site {
	def := func(p Phase) func(r *Request) Status {
		switch p {
		case Translate:
			return func(*Request) Status { return Declined }
		case Authn:
			return func(r *Request) Status { r.User = "alice"; return OK }
		case Content:
			return func(r *Request) Status { r.WriteString("content"); return OK }
		}
		return func(*Request) Status { return OK }
	}
	hs := [NumPhases][]Handler{}
	for _, p := range Phases() {
		g := def(p)
		if p == on && f != nil {
			g = f
		}
		hs[p] = []Handler{tr.fn(p.String(), g)}
	}
	root := &Location{Prefix: "/", Handlers: hs}
	s, err := NewSite([]*Location{root})
	if err != nil {
		panic(err)
	}
	s.PostReadRequest = hs[PostReadRequest]
	s.Translate = hs[Translate]
	return s
}

// names returns the phase names of ps.
func names(ps ...Phase) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// upTo returns the phases from post-read-request through p, then log.
func upTo(p Phase) []string {
	var ps []Phase
	for q := PostReadRequest; q <= p; q++ {
		ps = append(ps, q)
	}
	return append(names(ps...), Log.String())
}

type response struct {
	status int
	header http.Header
	body   string
}

// serveBoth serves target through site.Serve with a recorder and through a
// real net/http server, returning both responses; tr is reset before each.
func serveBoth(t *testing.T, s *Site, tr *trace, target string) map[string]response {
	t.Helper()
	out := map[string]response{}
	tr.reset()
	r, w := newReq("GET", target)
	s.Serve(r)
	res := w.Result()
	out["Serve"] = response{res.StatusCode, res.Header, w.Body.String()}
	out["Serve/trace"] = response{body: join(tr.get())}

	tr.reset()
	srv := httptest.NewServer(s)
	defer srv.Close()
	st, h, body := get(t, srv.Client(), srv.URL+target)
	out["ServeHTTP"] = response{st, h, body}
	out["ServeHTTP/trace"] = response{body: join(tr.get())}
	return out
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

func TestSiteRunsEveryPhaseInOrder(t *testing.T) {
	tr := &trace{}
	s := pipeline(tr, -1, nil)
	for _, via := range []string{"Serve", "ServeHTTP"} {
		res := serveBoth(t, s, tr, "/x")
		assert.Equal(t, http.StatusOK, res[via].status, via)
		assert.Equal(t, "content", res[via].body, via)
		assert.Equal(t, join(names(Phases()...)), res[via+"/trace"].body, via)
	}
}

func TestSiteDoneFromEachPhase(t *testing.T) {
	for _, p := range Phases() {
		if p == Log {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			tr := &trace{}
			s := pipeline(tr, p, func(r *Request) Status {
				r.User = "alice" // so that authn's Done is not judged on the user
				r.ResponseHeader.Set("X-Done", p.String())
				r.WriteString("done at " + p.String())
				return Done
			})
			res := serveBoth(t, s, tr, "/x")
			for _, via := range []string{"Serve", "ServeHTTP"} {
				assert.Equal(t, http.StatusOK, res[via].status, via)
				assert.Equal(t, "done at "+p.String(), res[via].body, via)
				assert.Equal(t, p.String(), res[via].header.Get("X-Done"), via)
				assert.Equal(t, join(upTo(p)), res[via+"/trace"].body, via)
			}
		})
	}
}

func TestSiteDoneWithoutWriting(t *testing.T) {
	tr := &trace{}
	s := pipeline(tr, Access, func(r *Request) Status {
		r.Status = http.StatusNoContent
		return Done
	})
	res := serveBoth(t, s, tr, "/")
	for _, via := range []string{"Serve", "ServeHTTP"} {
		assert.Equal(t, http.StatusNoContent, res[via].status, via)
		assert.Empty(t, res[via].body, via)
		assert.Equal(t, join(upTo(Access)), res[via+"/trace"].body, via)
	}
}

func TestSiteHTTPStatusFromEachPhase(t *testing.T) {
	for _, p := range Phases() {
		if p == Log {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			tr := &trace{}
			s := pipeline(tr, p, func(r *Request) Status {
				r.ResponseHeader.Set("X-Dropped", "headers_out")
				r.ResponseHeader.Set("Content-Type", "application/json")
				r.ErrHeader().Set("WWW-Authenticate", `Basic realm="x"`)
				r.ErrHeader().Set("X-Kept", "err_headers_out")
				return http.StatusForbidden
			})
			// A header set by an earlier phase is dropped as well.
			if p != PostReadRequest {
				s.PostReadRequest = []Handler{tr.fn(PostReadRequest.String(), func(r *Request) Status {
					r.ResponseHeader.Set("X-Early", "1")
					return OK
				})}
			}
			res := serveBoth(t, s, tr, "/x")
			for _, via := range []string{"Serve", "ServeHTTP"} {
				got := res[via]
				assert.Equal(t, http.StatusForbidden, got.status, via)
				assert.Equal(t, "403 Forbidden\n", got.body, via)
				assert.Equal(t, "text/plain; charset=utf-8", got.header.Get("Content-Type"), via)
				assert.Empty(t, got.header.Get("X-Dropped"), via)
				assert.Empty(t, got.header.Get("X-Early"), via)
				assert.Equal(t, `Basic realm="x"`, got.header.Get("WWW-Authenticate"), via)
				assert.Equal(t, "err_headers_out", got.header.Get("X-Kept"), via)
				assert.Equal(t, join(upTo(p)), res[via+"/trace"].body, via)
			}
		})
	}
}

func TestSiteErrHeaderSentWithSuccess(t *testing.T) {
	tr := &trace{}
	s := pipeline(tr, Fixup, func(r *Request) Status {
		r.ErrHeader().Set("X-Always", "yes")
		r.ResponseHeader.Set("X-Normal", "yes")
		return OK
	})
	res := serveBoth(t, s, tr, "/")
	for _, via := range []string{"Serve", "ServeHTTP"} {
		assert.Equal(t, http.StatusOK, res[via].status, via)
		assert.Equal(t, "yes", res[via].header.Get("X-Always"), via)
		assert.Equal(t, "yes", res[via].header.Get("X-Normal"), via)
	}
}

func TestSiteContentOutcome(t *testing.T) {
	write := func(s string) func(r *Request) Status {
		return func(r *Request) Status { r.WriteString(s); return OK }
	}
	tests := []struct {
		name    string
		content []func(r *Request) Status
		status  int
		body    string
		ran     string
	}{
		{"no content handlers", nil, 404, "404 Not Found\n", "log"},
		{"all declined", []func(*Request) Status{
			func(*Request) Status { return Declined },
			func(*Request) Status { return Declined },
		}, 404, "404 Not Found\n", "c0,c1,log"},
		{"all run in order", []func(*Request) Status{write("a"), write("b"), write("c")}, 200, "abc", "c0,c1,c2,log"},
		{"one OK among declines", []func(*Request) Status{
			func(*Request) Status { return Declined }, write("x"), func(*Request) Status { return Declined },
		}, 200, "x", "c0,c1,c2,log"},
		{"OK without writing is an empty 200", []func(*Request) Status{func(*Request) Status { return OK }}, 200, "", "c0,log"},
		{"status set by handler", []func(*Request) Status{func(r *Request) Status {
			r.Status = http.StatusCreated
			r.WriteString("made")
			return OK
		}}, 201, "made", "c0,log"},
		{"error ends the phase", []func(*Request) Status{
			func(*Request) Status { return Declined },
			func(*Request) Status { return http.StatusTeapot },
			write("never"),
		}, 418, "418 I'm a teapot\n", "c0,c1,log"},
		{"invalid status is 500", []func(*Request) Status{func(*Request) Status { return 42 }, write("never")},
			500, "500 Internal Server Error\n", "c0,log"},
		{"write then error: status stays", []func(*Request) Status{func(r *Request) Status {
			r.WriteString("partial")
			return http.StatusInternalServerError
		}, write("never")}, 200, "partial", "c0,log"},
		{"write then panic: status stays", []func(*Request) Status{func(r *Request) Status {
			r.WriteString("partial")
			panic("late")
		}}, 200, "partial", "c0,log"},
		{"declined after writing: no 404 can be sent", []func(*Request) Status{func(r *Request) Status {
			r.WriteString("partial")
			return Declined
		}}, 200, "partial", "c0,log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &trace{}
			var hs []Handler
			for i, f := range tt.content {
				hs = append(hs, tr.fn("c"+string(rune('0'+i)), f))
			}
			s := newSite(t, at("/", map[Phase][]Handler{Content: hs, Log: {tr.h("log", OK)}}))
			res := serveBoth(t, s, tr, "/page")
			for _, via := range []string{"Serve", "ServeHTTP"} {
				assert.Equal(t, tt.status, res[via].status, via)
				assert.Equal(t, tt.body, res[via].body, via)
				assert.Equal(t, tt.ran, res[via+"/trace"].body, via)
			}
		})
	}
}

func TestSiteAuthnOKWithoutUserIs500(t *testing.T) {
	tr := &trace{}
	s := pipeline(tr, Authn, func(*Request) Status { return OK })
	res := serveBoth(t, s, tr, "/")
	for _, via := range []string{"Serve", "ServeHTTP"} {
		assert.Equal(t, http.StatusInternalServerError, res[via].status, via)
		assert.Equal(t, join(upTo(Authn)), res[via+"/trace"].body, via)
	}
}

func TestSiteLogAlwaysRuns(t *testing.T) {
	tr := &trace{}
	logs := []Handler{
		tr.h("log0", panics),
		tr.h("log1", http.StatusInternalServerError),
		tr.h("log2", Done),
		tr.h("log3", 42),
		tr.h("log4", Declined),
	}
	all := "log0,log1,log2,log3,log4"
	tests := []struct {
		name    string
		content Handler
		status  int
		ran     string
	}{
		{"after OK", tr.fn("c", func(r *Request) Status { r.WriteString("hi"); return OK }), 200, "c," + all},
		{"after Done", tr.h("c", Done), 200, "c," + all},
		{"after an HTTP error", tr.h("c", http.StatusForbidden), 403, "c," + all},
		{"after a panic", tr.h("c", panics), 500, "c," + all},
		{"after all declined", tr.h("c", Declined), 404, "c," + all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, at("/", map[Phase][]Handler{Content: {tt.content}, Log: logs}))
			res := serveBoth(t, s, tr, "/")
			for _, via := range []string{"Serve", "ServeHTTP"} {
				assert.Equal(t, tt.status, res[via].status, via)
				assert.Equal(t, tt.ran, res[via+"/trace"].body, via)
			}
		})
	}
}

func TestSiteLogRunsAfterSiteWidePhaseError(t *testing.T) {
	// An error in post-read-request or translate still runs the log phase of
	// the location the path matches.
	for _, p := range []Phase{PostReadRequest, Translate} {
		t.Run(p.String(), func(t *testing.T) {
			tr := &trace{}
			s := newSite(t,
				at("/", map[Phase][]Handler{Log: {tr.h("root-log", OK)}}),
				at("/p", map[Phase][]Handler{Content: {tr.h("content", OK)}, Log: {tr.h("p-log", OK)}}),
			)
			hs := []Handler{tr.h(p.String(), http.StatusBadRequest)}
			if p == PostReadRequest {
				s.PostReadRequest = hs
			} else {
				s.Translate = hs
			}
			res := serveBoth(t, s, tr, "/p/x")
			for _, via := range []string{"Serve", "ServeHTTP"} {
				assert.Equal(t, http.StatusBadRequest, res[via].status, via)
				assert.Equal(t, p.String()+",p-log", res[via+"/trace"].body, via)
			}
		})
	}
}

func TestSitePanicIs500AndServingGoesOn(t *testing.T) {
	tr := &trace{}
	s := newSite(t,
		at("/", map[Phase][]Handler{
			Content: {HandlerFunc(func(r *Request) Status { r.WriteString("Hello!"); return OK })},
			Log:     {tr.fn("log", func(r *Request) Status { tr.add(r.Path); return OK })},
		}),
		at("/panic", map[Phase][]Handler{Content: {HandlerFunc(func(*Request) Status { panic("demo panic") })}}),
	)
	log, buf := newLogger()
	srv := httptest.NewServer(serveAs(s, "test", log))
	defer srv.Close()

	st, _, body := get(t, srv.Client(), srv.URL+"/panic")
	assert.Equal(t, http.StatusInternalServerError, st)
	assert.Equal(t, "500 Internal Server Error\n", body)
	assert.Contains(t, buf.String(), "handler panicked")
	assert.Contains(t, buf.String(), "demo panic")
	assert.Contains(t, buf.String(), `"phase":"content"`)

	for i := 0; i < 3; i++ {
		st, _, body = get(t, srv.Client(), srv.URL+"/hello")
		assert.Equal(t, http.StatusOK, st)
		assert.Equal(t, "Hello!", body)
	}
	assert.Equal(t, []string{"log", "/panic", "log", "/hello", "log", "/hello", "log", "/hello"}, tr.get())
}

func TestSiteWriteThenErrorIsLogged(t *testing.T) {
	s := newSite(t, at("/", map[Phase][]Handler{Content: {HandlerFunc(func(r *Request) Status {
		r.WriteString("partial")
		return http.StatusBadGateway
	})}}))
	log, buf := newLogger()
	r, w := newReq("GET", "/")
	r.bind(w, nil, log)
	s.Serve(r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "partial", w.Body.String())
	assert.Contains(t, buf.String(), "after the response started")
	assert.Contains(t, buf.String(), `"status":502`)
}

func TestSiteRequestStateAcrossPhases(t *testing.T) {
	// Notes set in one phase are seen by later ones, the user from authn
	// reaches content and log.
	var seen []string
	s := newSite(t, at("/", map[Phase][]Handler{
		HeaderParser: {HandlerFunc(func(r *Request) Status { r.SetNote("k", "from header-parser"); return OK })},
		Authn:        {HandlerFunc(func(r *Request) Status { r.User, r.AuthType = "carol", "Test"; return OK })},
		Content: {HandlerFunc(func(r *Request) Status {
			seen = append(seen, r.Note("k"), r.User, r.AuthType)
			return OK
		})},
		Log: {HandlerFunc(func(r *Request) Status {
			seen = append(seen, r.User, r.Note("k"))
			return OK
		})},
	}))
	r, w := newReq("GET", "/")
	s.Serve(r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, []string{"from header-parser", "carol", "Test", "carol", "from header-parser"}, seen)
	assert.Equal(t, map[string]string{"k": "from header-parser"}, r.Notes())
	require.True(t, r.ResponseStarted())
}

func TestSiteBodylessErrorStatuses(t *testing.T) {
	// 204 and 304 carry no body even on the error path.
	for _, st := range []Status{http.StatusNoContent, http.StatusNotModified} {
		t.Run(st.String(), func(t *testing.T) {
			tr := &trace{}
			s := newSite(t, at("/", map[Phase][]Handler{Content: {tr.h("c", st)}, Log: {tr.h("log", OK)}}))
			srv := httptest.NewServer(s)
			defer srv.Close()
			got, _, body := get(t, srv.Client(), srv.URL+"/")
			assert.Equal(t, int(st), got)
			assert.Empty(t, body)
			assert.Equal(t, []string{"c", "log"}, tr.get())
		})
	}
}

func TestSiteConcurrentRequests(t *testing.T) {
	// Pooled requests under load: each response belongs to its request.
	s := newSite(t, at("/", map[Phase][]Handler{
		HeaderParser: {HandlerFunc(func(r *Request) Status { r.SetNote("path", r.Path); return OK })},
		Content: {HandlerFunc(func(r *Request) Status {
			r.ErrHeader().Set("X-Path", r.Path)
			r.WriteString(r.Note("path") + "|" + r.RawQuery)
			return OK
		})},
	}))
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := srv.Client()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				path := fmt.Sprintf("/g%d/r%d", g, i)
				resp, err := c.Get(srv.URL + path + "?i=" + fmt.Sprint(i))
				if !assert.NoError(t, err) {
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, path+"|i="+fmt.Sprint(i), string(b))
				assert.Equal(t, []string{path}, resp.Header.Values("X-Path"))
			}
		}()
	}
	wg.Wait()
}

type closeCounter struct {
	n   int
	err error
}

func (c *closeCounter) Close() error { c.n++; return c.err }

func TestSiteCloseReleasesOnce(t *testing.T) {
	s := newSite(t)
	a, b := &closeCounter{}, &closeCounter{err: errors.New("pool: already closed")}
	s.OnClose(a)
	s.OnClose(b)
	assert.ErrorContains(t, s.Close(), "pool: already closed")
	assert.NoError(t, s.Close(), "a second Close releases nothing again")
	assert.Equal(t, 1, a.n)
	assert.Equal(t, 1, b.n)
}
