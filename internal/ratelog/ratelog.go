// Package ratelog bounds how often one kind of event is logged: a peer
// that trips a limit on every request must not fill the disk with the
// same line.
package ratelog

import (
	"sync"
	"time"
)

// Limiter lets an event be logged once per Every; the zero Limiter logs
// once a minute.
type Limiter struct {
	// Every is the shortest interval between two lines. Default 1 minute.
	Every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Allow reports whether to log the event now and, if so, how many events
// were not logged since the last line (to say "and N more").
func (l *Limiter) Allow() (ok bool, suppressed int) {
	every := l.Every
	if every <= 0 {
		every = time.Minute
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < every {
		l.suppressed++
		return false, 0
	}
	l.last, suppressed, l.suppressed = now, l.suppressed, 0
	return true, suppressed
}
