// Package logbuf is the log output of `anyhost serve`: lines are appended
// to a memory buffer and written in batches by a goroutine of their own,
// so a request never waits for write(2), and a stalled stderr (a full pipe
// to journald) never stalls a request.
//
// Not zerolog's diode: it writes every line with its own write(2), the cost
// this removes (one access log line per request measured 0.86x req/s when
// written synchronously), and it cannot be flushed on demand (SIGHUP).
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Writer buffers lines for out. A line is written at most Delay after it
// was logged; Flush writes everything logged before it; lines that would
// grow the buffer past Max are dropped, counted, and the count written as
// a line of its own once the output drains.
type Writer struct {
	out   io.Writer
	delay time.Duration
	max   int
	// dropLine formats the line reporting n dropped lines, in the log's
	// own format.
	dropLine func(n int) []byte

	mu      sync.Mutex
	buf     []byte // lines not yet handed to out
	dropped int    // lines refused since the last write
	closed  bool

	wmu   sync.Mutex // one batch at a time, in order
	spare []byte     // the previous batch's memory, under wmu

	wake      chan struct{} // a line landed in an empty buffer
	stop      chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

// New starts a Writer for out. dropLine formats the report of n dropped
// lines.
func New(out io.Writer, delay time.Duration, max int, dropLine func(n int) []byte) *Writer {
	w := &Writer{
		out: out, delay: delay, max: max, dropLine: dropLine,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go w.run()
	return w
}

// Write queues one line (zerolog writes a line per call). It never blocks
// on out; after Close it writes through.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.wmu.Lock()
		defer w.wmu.Unlock()
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.max {
		w.dropped++
		w.mu.Unlock()
		return len(p), nil
	}
	first := len(w.buf) == 0
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	if first {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-w.stop:
			return
		case <-w.wake:
		}
		// Lines that come while this one waits go in the same write.
		t.Reset(w.delay)
		select {
		case <-w.stop:
			t.Stop()
			return
		case <-t.C:
		}
		w.Flush()
	}
}

// Flush writes every line queued before it was called and returns once
// out has them.
func (w *Writer) Flush() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.flush(false)
}

// flush hands the queue to out; under wmu. closing makes later Writes
// write through (they wait for wmu, so they come after this batch).
func (w *Writer) flush(closing bool) {
	w.mu.Lock()
	batch, dropped := w.buf, w.dropped
	w.buf, w.dropped = w.spare[:0], 0
	w.closed = w.closed || closing
	w.mu.Unlock()
	if len(batch) > 0 {
		w.out.Write(batch) //nolint:errcheck // nowhere to report a failing log
	}
	if dropped > 0 {
		w.out.Write(w.dropLine(dropped)) //nolint:errcheck
	}
	w.spare = batch[:0]
}

// Close stops the writer's goroutine and writes what is queued; later
// lines are written as they come.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		w.wmu.Lock()
		defer w.wmu.Unlock()
		w.flush(true)
	})
	return nil
}
