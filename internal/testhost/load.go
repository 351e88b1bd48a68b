package testhost

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// LoadTarget is what one client of a Load asks for, and the body it must get
// back with 200.
type LoadTarget struct {
	Path, User, Password string
	Want                 string
}

// Load is a set of clients that send requests in a loop until Stop. A test
// shows that a host answers across a restart or a reload with Progressed
// after each one: counting requests over a fixed time would measure the
// machine, and a fast one finishes the restarts with few requests sent.
type Load struct {
	answered []atomic.Int64 // per client
	mu       sync.Mutex
	failures map[string]int
	stop     chan struct{}
	wg       sync.WaitGroup
}

// StartLoad starts one client per target against base (a URL without a
// path). Each client sends its requests one after another; with
// closeEach, each on a new connection, as wrk's "Connection: close" would.
func StartLoad(t testing.TB, base string, closeEach bool, targets ...LoadTarget) *Load {
	l := &Load{answered: make([]atomic.Int64, len(targets)), failures: map[string]int{}, stop: make(chan struct{})}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = closeEach
	client := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	for i, tg := range targets {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if err := send(client, base, tg); err != nil {
					l.mu.Lock()
					l.failures[err.Error()]++
					l.mu.Unlock()
					continue
				}
				l.answered[i].Add(1)
			}
		}()
	}
	t.Cleanup(func() { l.halt() })
	return l
}

func send(client *http.Client, base string, tg LoadTarget) error {
	req, err := http.NewRequest("GET", base+tg.Path, nil)
	if err != nil {
		return err
	}
	if tg.User != "" {
		req.SetBasicAuth(tg.User, tg.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != tg.Want {
		return fmt.Errorf("%s: %d %q %v", tg.Path, resp.StatusCode, body, err)
	}
	return nil
}

// Progressed waits until every client has had a request answered since the
// call, and fails the test if one has none within 30 seconds.
func (l *Load) Progressed(t testing.TB, when string) {
	t.Helper()
	from := make([]int64, len(l.answered))
	for i := range l.answered {
		from[i] = l.answered[i].Load()
	}
	ok := assert.Eventually(t, func() bool {
		for i := range l.answered {
			if l.answered[i].Load() <= from[i] {
				return false
			}
		}
		return true
	}, 30*time.Second, time.Millisecond, "a client had no request answered %s", when)
	if !ok {
		t.Fatalf("failed requests so far: %v", l.Failures())
	}
}

// Stop ends the load and returns its failures, each with its count.
func (l *Load) Stop() (failures []string) {
	l.halt()
	return l.Failures()
}

func (l *Load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// Failures lists the failed requests so far, each with its count.
func (l *Load) Failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.failures))
	for msg, n := range l.failures {
		out = append(out, fmt.Sprintf("%dx %s", n, msg))
	}
	sort.Strings(out)
	return out
}

// GetUntil GETs url until it answers status, for up to 10 seconds, and
// returns the last answer: after a restart or reload, a worker or child of
// the old generation may still take a new connection for a while.
func GetUntil(t testing.TB, url string, status int) Response {
	t.Helper()
	r := Do(t, "GET", url, nil, nil)
	for deadline := time.Now().Add(10 * time.Second); r.Status != status && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		r = Do(t, "GET", url, nil, nil)
	}
	return r
}
