package bridge

import (
	"context"
	"encoding/binary"
	"sync"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/inproc"
	"github.com/anyhost/anyhost/internal/wire"
)

// library is what anyhost_ngx_init built for this worker.
type library struct {
	*inproc.Library
	slots   inproc.Slots[reqState]
	pool    sync.Pool
	ready   readyQueue
	workers workers
	panics  host.PanicLog
}

func newLibrary(notifyFD int, specs []wire.Spec, serverRoot string) (*library, int, error) {
	built, mask, err := inproc.Build(specs, serverRoot, inproc.Directives{Phase: directive, Site: "anyhost_site"}, nil)
	lib := &library{Library: built, ready: readyQueue{fd: notifyFD}}
	lib.pool.New = func() any { return newState(lib) }
	return lib, mask, err
}

func directive(p core.Phase) string {
	return [...]string{"anyhost_post_read_handler", "(translate)", "anyhost_header_parser_handler",
		"anyhost_access_handler", "anyhost_authn_handler", "anyhost_authz_handler", "anyhost_fixup_handler",
		"anyhost_handler", "anyhost_log_handler"}[p]
}

// acquire returns the request's state: the one C holds a handle to, or a
// pooled one.
func (lib *library) acquire(handle uintptr) *reqState {
	if handle != 0 {
		if st := lib.slots.Get(handle); st != nil {
			return st
		}
	}
	st := lib.pool.Get().(*reqState)
	st.ctx, st.stop = context.WithCancel(context.Background())
	return st
}

// keep gives st a handle when C must hold one (a job runs, log lines wait,
// or an earlier phase left state); a state that did nothing goes back to
// the pool, so a request no Go handler touches costs no slot.
func (lib *library) keep(st *reqState) uintptr {
	if st.handle == 0 {
		st.mu.Lock()
		needed := st.running || len(st.logs.Buf) > 0
		st.mu.Unlock()
		if !needed {
			st.reset()
			lib.pool.Put(st)
			return 0
		}
		st.handle = lib.slots.Put(st)
		st.mu.Lock()
		if len(st.logs.Buf) > 0 {
			st.notifyLocked() // logged before it had a handle to be named by
		}
		st.mu.Unlock()
	}
	return st.handle
}

func (lib *library) drop(st *reqState) {
	if lib.slots.Drop(st.handle) == nil {
		return
	}
	st.reset()
	lib.pool.Put(st)
}

// readyQueue holds the handles that have something for nginx's loop. The
// eventfd is written when the queue becomes non-empty: the loop drains it
// whole on every wake-up, so one write covers every handle queued before
// the drain.
type readyQueue struct {
	fd    int
	mu    sync.Mutex
	items []uintptr
}

func (q *readyQueue) push(h uintptr) {
	q.mu.Lock()
	first := len(q.items) == 0
	q.items = append(q.items, h)
	q.mu.Unlock()
	if first {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		for {
			// EAGAIN only when the counter is at its maximum, i.e. a wake-up
			// is pending anyway.
			if _, err := syscall.Write(q.fd, one[:]); err != syscall.EINTR {
				return
			}
		}
	}
}

func (q *readyQueue) take(out []uintptr) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := copy(out, q.items)
	q.items = q.items[:copy(q.items, q.items[n:])]
	return n
}

// ngxLevel is nginx's NGX_LOG_* level for a line the logger wrote at l.
func ngxLevel(l zerolog.Level) int {
	switch l {
	case zerolog.TraceLevel, zerolog.DebugLevel:
		return 8
	case zerolog.InfoLevel:
		return 7
	case zerolog.WarnLevel:
		return 5
	case zerolog.ErrorLevel:
		return 4
	}
	return 3
}
