package listen

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a connection a Conns set can drain: CloseIfIdle closes it only
// when no request is in progress on it.
type Conn interface {
	comparable
	CloseIfIdle()
	Close() error
}

// Conns is the listeners and open connections of a server written here
// (the FastCGI server, the nginx auth socket), for the graceful shutdown
// net/http's Server.Shutdown gives its own: stop accepting, close idle
// connections, wait for busy ones, close the rest when time is up. The
// zero value is ready to use.
type Conns[C Conn] struct {
	mu        sync.Mutex
	closed    atomic.Bool
	done      chan struct{}
	listeners map[net.Listener]struct{}
	conns     map[C]struct{}
}

func (s *Conns[C]) initLocked() {
	if s.done == nil {
		s.done = make(chan struct{})
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[C]struct{}{}
	}
}

// AddListener registers ln, to be closed by Shutdown; false once Shutdown
// has begun.
func (s *Conns[C]) AddListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.closed.Load() {
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

// RemoveListener forgets ln (its accept loop ended).
func (s *Conns[C]) RemoveListener(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, ln)
}

// Add registers a new connection; false once Shutdown has begun, and the
// caller closes it, so that none outlives a Shutdown that returned.
func (s *Conns[C]) Add(c C) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if s.closed.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// Remove forgets a connection that ended.
func (s *Conns[C]) Remove(c C) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// ShuttingDown reports whether Shutdown has begun; cheap enough for every
// request.
func (s *Conns[C]) ShuttingDown() bool { return s.closed.Load() }

// Closing is closed when Shutdown begins.
func (s *Conns[C]) Closing() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	return s.done
}

// Shutdown closes the listeners, then closes connections as they become
// idle until none is left; when ctx ends first it closes them all and
// returns ctx.Err().
func (s *Conns[C]) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.initLocked()
	if !s.closed.Swap(true) {
		close(s.done)
	}
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			c.CloseIfIdle()
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.Close()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-t.C:
		}
	}
}
