package fastcgi

import (
	"io"
	"sync"
	"time"

	"github.com/anyhost/anyhost/core"
)

// bodyBuf is how much STDIN a request holds before the connection's read
// loop waits for the handler to read: enough to keep a fast handler busy,
// small enough that a 10 MiB upload never sits in memory whole.
const bodyBuf = 256 << 10

// body is a request's STDIN as the handler reads it. The read loop copies
// each record in (the record buffer is reused); the handler blocks until
// data arrives or the empty STDIN record ends the stream.
type body struct {
	mu   sync.Mutex
	cond sync.Cond
	buf  []byte
	off  int
	eof  bool  // the empty STDIN record arrived
	err  error // returned once buffered data is read: abort, too large
	done bool  // the handler returned: further STDIN is dropped
	n    int64
	max  int64

	// A handler waiting for STDIN that does not come (a stalled or
	// malicious peer) gets core.ErrBodyTimeout (408) once it has waited
	// timeout with nothing moving either way; a handler that reads slowly
	// is not failed for it. The timer exists only once a Read has waited.
	timeout time.Duration
	timer   *time.Timer
	moved   time.Time // data last arrived or was read
	waiting bool      // a Read waits on an empty buffer
}

func newBody(max int64, timeout time.Duration) *body {
	b := &body{max: max, timeout: timeout}
	b.cond.L = &b.mu
	return b
}

// expire runs on the timer: it fails the body if STDIN has not moved for
// timeout, else waits for the rest of it.
func (b *body) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || b.eof || b.err != nil {
		return
	}
	if idle := time.Since(b.moved); !b.waiting || idle < b.timeout {
		b.timer.Reset(max(b.timeout-idle, time.Millisecond))
		return
	}
	b.err = core.ErrBodyTimeout
	b.cond.Broadcast()
}

// write adds one STDIN record's content; empty content ends the stream.
func (b *body) write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) == 0 {
		b.eof = true
		b.cond.Broadcast()
		return
	}
	for !b.done && b.err == nil && len(b.buf)-b.off >= bodyBuf {
		b.cond.Wait()
	}
	if b.done || b.err != nil || b.eof {
		return
	}
	b.n += int64(len(p))
	if b.n > b.max {
		// Like net/http's MaxBytesReader: the handler gets 413 through
		// core.StatusForError.
		b.err = core.ErrBodyTooLarge
		b.cond.Broadcast()
		return
	}
	if b.off == len(b.buf) {
		b.buf, b.off = b.buf[:0], 0
	} else if b.off > len(b.buf)/2 {
		b.buf, b.off = b.buf[:copy(b.buf, b.buf[b.off:])], 0
	}
	b.buf = append(b.buf, p...)
	if b.timer != nil {
		b.moved = time.Now()
	}
	b.cond.Broadcast()
}

// fail makes reads fail with err after the buffered data, unless the
// stream already ended.
func (b *body) fail(err error) {
	b.mu.Lock()
	if b.err == nil && !b.eof {
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// close is called when the handler returns: STDIN still arriving is
// dropped without stalling the connection.
func (b *body) close() {
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.done, b.buf = true, nil
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Read implements io.Reader for core.Request.Body.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.off == len(b.buf) && !b.eof && b.err == nil && !b.done {
		if b.timer == nil && b.timeout > 0 {
			b.moved = time.Now()
			b.timer = time.AfterFunc(b.timeout, b.expire)
		}
		b.waiting = true
		b.cond.Wait()
		b.waiting = false
	}
	if b.off < len(b.buf) {
		n := copy(p, b.buf[b.off:])
		b.off += n
		if b.timer != nil {
			b.moved = time.Now()
		}
		b.cond.Broadcast()
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return 0, io.EOF
}
