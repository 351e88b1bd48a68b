// Package bridge is the Go side of ngx_http_anyhost_module: the functions
// nginx's workers call. Only the package main that `anyhost nginx build`
// generates imports it, so nothing else needs cgo or nginx.
//
// No export runs a handler: a phase with handlers starts a goroutine and
// returns, and the goroutine's results wait in the request's state until
// the worker's event loop takes them, after a notice on the eventfd the
// module gave at init (anyhost_ngx.h). Go never calls into nginx. Every
// export recovers panics: one escaping into C would kill the worker.
package bridge

/*
#include <stdint.h>
#include "anyhost_ngx.h"
*/
import "C"

import (
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/internal/inproc"
	"github.com/anyhost/anyhost/internal/wire"
)

// BridgeVersion must equal ANYHOST_NGX_VERSION in anyhost_ngx.h.
const BridgeVersion = C.ANYHOST_NGX_VERSION

// loaded is the library anyhost_ngx_init built; set once per worker. It is
// the one package-level variable: C calls in with nothing else to hold it.
var loaded atomic.Pointer[library]

//export anyhost_ngx_version
func anyhost_ngx_version() C.int { return BridgeVersion }

//export anyhost_ngx_init
func anyhost_ngx_init(cVersion C.int, notifyFD C.int, specs *C.char, n C.long, gomaxprocs C.int,
	sitePhases *C.int, errbuf *C.char, errlen C.long) C.int {
	var versionErr error
	if cVersion != BridgeVersion {
		versionErr = fmt.Errorf("the nginx module speaks bridge version %d, this library %d: rebuild both with one `anyhost nginx build`", int(cVersion), BridgeVersion)
	}
	return C.int(inproc.Load(unsafe.Slice((*byte)(unsafe.Pointer(errbuf)), int(errlen)), versionErr, bytesOf(specs, n), int(gomaxprocs),
		func(root string, sp []wire.Spec) error {
			lib, mask, err := newLibrary(int(notifyFD), sp, root)
			*sitePhases = C.int(mask)
			loaded.Store(lib)
			return err
		}))
}

func bytesOf(p *C.char, n C.long) []byte {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

func panicked(st *reqState, v any) {
	msg := fmt.Sprintf("anyhost nginx bridge panic: %v\n%s", v, debug.Stack())
	if st != nil {
		st.log(3, msg)
		return
	}
	fmt.Fprintln(os.Stderr, msg)
}

//export anyhost_ngx_start
func anyhost_ngx_start(r unsafe.Pointer, phase C.int, ids *C.int, n C.int, req *C.char, reqlen C.long,
	body *C.char, bodylen C.long, state *C.uintptr_t) (rc C.int) {
	lib := loaded.Load()
	var st *reqState
	defer func() {
		if v := recover(); v != nil {
			panicked(st, v)
			rc = http.StatusInternalServerError
		}
	}()
	st = lib.acquire(uintptr(*state))
	status, pending := st.start(r, core.Phase(phase), unsafe.Slice((*int32)(unsafe.Pointer(ids)), int(n)),
		bytesOf(req, reqlen), bytesOf(body, bodylen))
	*state = C.uintptr_t(lib.keep(st))
	if pending {
		return C.AHN_PENDING
	}
	return C.int(status)
}

//export anyhost_ngx_plan
func anyhost_ngx_plan(phase C.int, path *C.char, n C.long, contentLength C.longlong) (rc C.int) {
	defer func() {
		if v := recover(); v != nil {
			panicked(nil, v)
			rc = 1 // let start decide (and answer 500)
		}
	}()
	// A view of nginx's memory for this call only: Match keeps nothing.
	p := unsafe.String((*byte)(unsafe.Pointer(path)), int(n))
	if loaded.Load().SiteNeeds(core.Phase(phase), p, int64(contentLength)) {
		return 1
	}
	return 0
}

//export anyhost_ngx_ready
func anyhost_ngx_ready(handles *C.uintptr_t, n C.long) C.long {
	lib := loaded.Load()
	if lib == nil || n <= 0 {
		return 0
	}
	out := unsafe.Slice((*uintptr)(unsafe.Pointer(handles)), int(n))
	return C.long(lib.ready.take(out))
}

//export anyhost_ngx_take
func anyhost_ngx_take(h C.uintptr_t, mode C.int, out *C.char, outcap C.long, outlen *C.long,
	r *unsafe.Pointer, flags *C.int) (rc C.int) {
	lib := loaded.Load()
	*outlen, *r, *flags = 0, nil, 0
	var st *reqState
	defer func() {
		if v := recover(); v != nil {
			panicked(st, v)
			rc = http.StatusInternalServerError
		}
	}()
	if lib == nil {
		return 0
	}
	st = lib.slots.Get(uintptr(h))
	if st == nil {
		return 0
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(outcap))
	res := st.take(int(mode), buf)
	*outlen = C.long(res.n)
	*r = res.r
	*flags = C.int(res.flags)
	if res.drop {
		lib.drop(st)
	}
	return C.int(res.status)
}

//export anyhost_ngx_pause
func anyhost_ngx_pause(h C.uintptr_t) {
	defer recoverQuietly()
	if st := loaded.Load().slots.Get(uintptr(h)); st != nil {
		st.pause()
	}
}

//export anyhost_ngx_cancel
func anyhost_ngx_cancel(h C.uintptr_t) {
	defer recoverQuietly()
	if st := loaded.Load().slots.Get(uintptr(h)); st != nil {
		st.cancel()
	}
}

//export anyhost_ngx_release
func anyhost_ngx_release(h C.uintptr_t) {
	defer recoverQuietly()
	lib := loaded.Load()
	if st := lib.slots.Get(uintptr(h)); st != nil && st.release() {
		lib.drop(st)
	}
}

func recoverQuietly() {
	if v := recover(); v != nil {
		panicked(nil, v)
	}
}
