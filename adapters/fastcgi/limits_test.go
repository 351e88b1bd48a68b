package fastcgi

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/anyhost/anyhost/core"
)

// serveWith runs s on a fresh TCP listener until the test ends.
func serveWith(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// Regression (resource exhaustion by a local peer): PARAMS that never end
// were buffered up to 1 MiB per request, for up to 4,096 requests, with no
// deadline after BEGIN_REQUEST (200 such requests: RSS 46 -> 372 MiB).
// Now the PARAMS buffered over all connections have a budget, a request
// past it is answered 503, and a connection whose PARAMS do not end in
// time is closed, freeing what it held.
func TestParamsFloodIsBounded(t *testing.T) {
	s := &Server{Site: demoSite(t), Log: testLog(t), ParamsTimeout: 500 * time.Millisecond, MaxParamsTotal: 1 << 20}
	addr := serveWith(t, s)
	chunk := appendPair(nil, "HTTP_X_PAD", strings.Repeat("p", 60000))
	var flood []*client
	for i := range 40 {
		c := dial(t, "tcp", addr)
		c.begin(1, RoleResponder, true)
		c.rec(typeParams, 1, chunk)
		c.rec(typeParams, 1, chunk)
		flood = append(flood, c)
		assert.LessOrEqual(t, s.buffered.Load(), s.MaxParamsTotal, "after %d connections", i+1)
	}
	require.Eventually(t, func() bool { return s.buffered.Load() > 0 }, time.Second, 10*time.Millisecond)
	assert.LessOrEqual(t, s.buffered.Load(), s.MaxParamsTotal)

	// A request past the budget that does end its PARAMS gets 503.
	late := dial(t, "tcp", addr)
	late.begin(1, RoleResponder, false)
	for range 3 {
		late.rec(typeParams, 1, chunk)
	}
	late.params(1, cgiParams("GET", "/hello"), maxContent)
	late.rec(typeStdin, 1, nil)
	r := late.replies(1)[1]
	assert.Equal(t, 503, r.status, r.body)
	assert.Equal(t, "1", r.header.Get("Retry-After"))

	// The stalled ones are cut off, and what they held is freed.
	for _, c := range flood {
		c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, _, err := c.read()
		assert.Error(t, err, "the connection is closed")
	}
	require.Eventually(t, func() bool { return s.buffered.Load() == 0 && s.reqs.Load() == 0 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "Hello!", dial(t, "tcp", addr).do(1, RoleResponder, false, cgiParams("GET", "/hello"), nil).body)
}

// A request's PARAMS past 1 MiB are answered 431, and the connection goes
// on.
func TestParamsTooLargeIs431(t *testing.T) {
	addr := start(t, "tcp")
	c := dial(t, "tcp", addr)
	r := c.do(1, RoleResponder, true, cgiParams("GET", "/hello", "HTTP_X_BIG", strings.Repeat("b", maxParams)), nil)
	assert.Equal(t, 431, r.status)
	assert.Equal(t, "Hello!", c.do(2, RoleResponder, true, cgiParams("GET", "/hello"), nil).body)
}

// A handler waiting for STDIN that stops coming gets 408 after the site's
// ReadTimeout, instead of holding its request slot for ever.
func TestStalledBodyTimesOut(t *testing.T) {
	site := demoSite(t)
	site.Limits = core.Limits{ReadTimeout: 300 * time.Millisecond}
	addr := serveWith(t, &Server{Site: site, Log: testLog(t)})
	c := dial(t, "tcp", addr)
	c.begin(1, RoleResponder, false)
	c.params(1, cgiParams("POST", "/echo", "CONTENT_LENGTH", "10"), maxContent)
	c.rec(typeStdin, 1, []byte("abc"))
	start := time.Now()
	r := c.replies(1)[1]
	assert.Equal(t, 408, r.status, r.body)
	assert.Less(t, time.Since(start), 5*time.Second)
}

// Regression (security review): one connection sending BEGIN_REQUEST for
// ids 1-512 and no PARAMS took every request slot, and the web server's
// requests were refused until the params timeout. Now a connection holds at
// most maxPending such requests, and only running ones count in MaxReqs.
func TestPendingRequestsCannotLockOut(t *testing.T) {
	s := &Server{Site: demoSite(t), Log: testLog(t), MaxReqs: 2}
	addr := serveWith(t, s)
	hog := dial(t, "tcp", addr)
	for id := uint16(1); id <= 600; id++ {
		hog.begin(id, RoleResponder, true)
	}
	overloaded := 0
	for range 600 - maxPending {
		typ, _, content, err := hog.read()
		require.NoError(t, err)
		require.Equal(t, uint8(typeEndRequest), typ)
		if content[4] == statusOverloaded {
			overloaded++
		}
	}
	assert.Equal(t, 600-maxPending, overloaded)
	assert.Equal(t, "Hello!", dial(t, "tcp", addr).do(1, RoleResponder, false, cgiParams("GET", "/hello"), nil).body)

	// Two requests running (waiting for their bodies) fill MaxReqs: a
	// third is answered 503, and once they end the next one runs.
	var running []*client
	for range 2 {
		c := dial(t, "tcp", addr)
		c.begin(1, RoleResponder, false)
		c.params(1, cgiParams("POST", "/echo", "CONTENT_LENGTH", "3"), maxContent)
		running = append(running, c)
	}
	require.Eventually(t, func() bool { return s.reqs.Load() == 2 }, 2*time.Second, 5*time.Millisecond)
	r := dial(t, "tcp", addr).do(1, RoleResponder, false, cgiParams("GET", "/hello"), nil)
	assert.Equal(t, 503, r.status)
	for _, c := range running {
		c.stream(typeStdin, 1, []byte("abc"), maxContent)
		assert.Equal(t, int64(3), echoOf(t, c.replies(1)[1]).BodyLength)
	}
	assert.Equal(t, "Hello!", dial(t, "tcp", addr).do(1, RoleResponder, false, cgiParams("GET", "/hello"), nil).body)
}

// A handler that reads its body slowly, with pauses longer than
// ReadTimeout, is not failed for it: only waiting on a peer that sends
// nothing is (security review).
func TestSlowReaderIsNotTimedOut(t *testing.T) {
	b := newBody(1<<20, 50*time.Millisecond)
	go func() {
		time.Sleep(20 * time.Millisecond) // the first Read waits: the timer runs
		for range 4 {
			b.write(make([]byte, 200<<10)) // blocks while the buffer is full
		}
		b.write(nil)
	}()
	buf := make([]byte, 16<<10)
	n := 0
	for {
		m, err := b.Read(buf)
		n += m
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond) // a slow consumer: 800 KiB takes ~1 s
	}
	assert.Equal(t, 800<<10, n)
	b.close()
}

// Regression: after SetSite (a SIGHUP reload) the server kept the first
// site's idle and write timeouts, while the reload's log line said the new
// limits were in force. Every limit now comes from the current site.
func TestReloadAppliesNewLimits(t *testing.T) {
	small := demoSite(t)
	small.Limits = core.Limits{MaxBody: 100, IdleTimeout: 150 * time.Millisecond}
	s := &Server{Site: small, Log: testLog(t)}
	addr := serveWith(t, s)
	body := []byte(strings.Repeat("x", 1000))
	post := cgiParams("POST", "/echo", "CONTENT_LENGTH", "1000")
	assert.Equal(t, 413, dial(t, "tcp", addr).do(1, RoleResponder, false, post, body).status)

	large := demoSite(t)
	large.Limits = core.Limits{MaxBody: 10 << 20, IdleTimeout: 10 * time.Second}
	s.SetSite(large)
	c := dial(t, "tcp", addr)
	assert.Equal(t, 200, c.do(1, RoleResponder, true, post, body).status, "the new body limit")
	time.Sleep(500 * time.Millisecond) // past the old idle timeout, within the new one
	assert.Equal(t, 200, c.do(2, RoleResponder, true, post, body).status, "the new idle timeout")
}

// Regression: MaxReqs was checked and counted in two steps, so requests
// arriving together on many connections ran past it. No more than MaxReqs
// run at once however many arrive together, and every request past it is
// answered 503, none dropped.
func TestMaxReqsHoldsUnderConcurrency(t *testing.T) {
	const limit, conns = 3, 24
	var running, peak atomic.Int64
	release := make(chan struct{})
	slow := core.HandlerFunc(func(r *core.Request) core.Status {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		r.WriteString("done")
		return core.OK
	})
	loc := &core.Location{Prefix: "/"}
	loc.Handlers[core.Content] = []core.Handler{slow}
	site, err := core.NewSite([]*core.Location{loc})
	require.NoError(t, err)
	s := &Server{Site: site, Log: testLog(t), MaxReqs: limit}
	addr := serveWith(t, s)

	clients := make([]*client, conns)
	for i := range clients {
		clients[i] = dial(t, "tcp", addr)
	}
	statuses := make(chan int, conns)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.begin(1, RoleResponder, false)
			c.params(1, cgiParams("GET", "/slow"), maxContent)
			c.rec(typeStdin, 1, nil)
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return s.reqs.Load() == limit }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // let any overshoot show
	assert.LessOrEqual(t, peak.Load(), int64(limit))
	close(release)
	for _, c := range clients {
		go func() { statuses <- c.replies(1)[1].status }()
	}
	got := map[int]int{}
	for range conns {
		got[<-statuses]++
	}
	assert.Equal(t, map[int]int{200: limit, 503: conns - limit}, got)
}
