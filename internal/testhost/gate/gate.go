// Package gate is a handler for tests of hosts that run handlers
// asynchronously (the nginx module): it holds requests until the test
// releases them, counts them, streams, and notices cancelled contexts.
// Tests link it into a library with `anyhost nginx build --pkg`.
//
// Under its location (say /gate):
//
//	/gate/wait     blocks until released or the request's context ends
//	/gate/release  releases every waiting request
//	/gate/stats    JSON: in_flight, completed, cancelled
//	/gate/stream?n=BYTES&flush=1  writes n bytes in 8 KiB writes, flushing each
//	/gate/who      JSON: the request's Identity (user, groups, claims)
//	/gate/header?v=VALUE        sets X-Gate: VALUE
//	/gate/length?declare=N&n=M  declares Content-Length N and writes M bytes
//	/gate/redirect?to=PATH      a local redirect
package gate

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/anyhost/anyhost/core"
)

func init() { core.Register("test.gate", "holds requests until released (tests)", New) }

// Stats is what /stats answers.
type Stats struct {
	InFlight  int `json:"in_flight"`
	Completed int `json:"completed"`
	Cancelled int `json:"cancelled"`
	// Streams counts /stream handlers that returned (also after a failed write).
	Streams int `json:"streams"`
}

type gate struct {
	mu     sync.Mutex
	open   chan struct{}
	stats  Stats
	prefix string
}

// New builds the handler.
func New(o core.Options) (core.Handler, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	return &gate{open: make(chan struct{}), prefix: strings.TrimSuffix(o.Location, "/")}, nil
}

func (g *gate) Handle(r *core.Request) core.Status {
	switch strings.TrimPrefix(r.Path, g.prefix) {
	case "/wait":
		g.mu.Lock()
		g.stats.InFlight++
		open := g.open
		g.mu.Unlock()
		select {
		case <-open:
			g.mu.Lock()
			g.stats.InFlight--
			g.stats.Completed++
			g.mu.Unlock()
			r.WriteString("released\n")
		case <-r.Context().Done():
			g.mu.Lock()
			g.stats.InFlight--
			g.stats.Cancelled++
			g.mu.Unlock()
			return http.StatusServiceUnavailable
		}
	case "/release":
		g.mu.Lock()
		close(g.open)
		g.open = make(chan struct{})
		g.mu.Unlock()
		r.WriteString("ok\n")
	case "/stats":
		g.mu.Lock()
		s := g.stats
		g.mu.Unlock()
		r.ResponseHeader.Set("Content-Type", "application/json")
		b, _ := json.Marshal(s)
		r.Write(b)
	case "/who":
		r.ResponseHeader.Set("Content-Type", "application/json")
		b, _ := json.Marshal(r.Identity)
		r.Write(b)
	case "/stream":
		q := r.HTTPRequest().URL.Query()
		n, _ := strconv.Atoi(q.Get("n"))
		flush := q.Get("flush") == "1"
		buf := make([]byte, 8<<10)
		for i := range buf {
			buf[i] = byte('a' + i%26)
		}
		r.ResponseHeader.Set("Content-Type", "application/octet-stream")
		defer func() {
			g.mu.Lock()
			g.stats.Streams++
			g.mu.Unlock()
		}()
		for n > 0 {
			k := min(n, len(buf))
			if _, err := r.Write(buf[:k]); err != nil {
				return core.Done
			}
			if flush {
				r.Flush()
			}
			n -= k
		}
	case "/header":
		r.ResponseHeader.Set("X-Gate", r.HTTPRequest().URL.Query().Get("v"))
		r.WriteString("ok\n")
	case "/length":
		q := r.HTTPRequest().URL.Query()
		r.ResponseHeader.Set("Content-Length", q.Get("declare"))
		n, _ := strconv.Atoi(q.Get("n"))
		r.Write([]byte(strings.Repeat("x", n)))
	case "/redirect":
		r.LocalRedirect(r.HTTPRequest().URL.Query().Get("to"))
	default:
		return http.StatusNotFound
	}
	return core.OK
}
