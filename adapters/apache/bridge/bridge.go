// Package bridge is the Go side of mod_anyhost: the functions the C module
// calls in each Apache child. Only the package main that `anyhost apache
// build` generates imports it, so nothing else needs cgo or Apache.
//
// Every export recovers panics: one escaping into C would kill the child and
// every request on it.
package bridge

/*
#include <stdint.h>
#include "anyhost_bridge.h"
*/
import "C"

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/anyhost/anyhost/core"
	"github.com/anyhost/anyhost/core/host"
	"github.com/anyhost/anyhost/internal/inproc"
	"github.com/anyhost/anyhost/internal/wire"
)

// BridgeVersion must equal ANYHOST_BRIDGE_VERSION in anyhost_bridge.h.
const BridgeVersion = C.ANYHOST_BRIDGE_VERSION

// loaded is the library anyhost_init built; set once per child. It is the
// one package-level variable: C calls in with nothing else to hold it.
var loaded atomic.Pointer[library]

//export anyhost_bridge_version
func anyhost_bridge_version() C.int { return BridgeVersion }

//export anyhost_init
func anyhost_init(h *C.ah_host, cVersion C.int, specs *C.char, n C.long, gomaxprocs C.int,
	sitePhases *C.int, errbuf *C.char, errlen C.long) C.int {
	var versionErr error
	if cVersion != BridgeVersion || h.version != BridgeVersion {
		versionErr = fmt.Errorf("mod_anyhost speaks bridge version %d, this library %d: rebuild both with one anyhost", int(cVersion), BridgeVersion)
	}
	return C.int(inproc.Load(unsafe.Slice((*byte)(unsafe.Pointer(errbuf)), int(errlen)), versionErr, bytesOf(specs, n), int(gomaxprocs),
		func(root string, sp []wire.Spec) error {
			lib, mask, err := newLibrary(apache{h}, sp, root)
			*sitePhases = C.int(mask)
			loaded.Store(lib)
			return err
		}))
}

// acquire returns the request's state: the one C holds a handle to, or a
// pooled one.
func (lib *library) acquire(handle C.uintptr_t) *reqState {
	if handle != 0 {
		if st := lib.slots.Get(uintptr(handle)); st != nil {
			return st
		}
	}
	return lib.pool.Get().(*reqState)
}

// keep gives C a handle to st (if it has none) or, when this was the last
// phase running Go, drops st.
func (lib *library) keep(st *reqState, handle *C.uintptr_t, last bool) {
	if last {
		if st.handle != 0 {
			lib.slots.Drop(st.handle)
		}
		*handle = 0
		st.reset()
		lib.pool.Put(st)
		return
	}
	if st.handle == 0 {
		st.handle = lib.slots.Put(st)
	}
	*handle = C.uintptr_t(st.handle)
}

func panicked(st *reqState, v any) {
	msg := fmt.Sprintf("anyhost bridge panic: %v\n%s", v, debug.Stack())
	if st != nil && st.r != nil {
		st.lib.apache.log(st.r, 3, []byte(msg))
		return
	}
	fmt.Fprintln(os.Stderr, msg)
}

func bytesOf(p *C.char, n C.long) []byte {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

//export anyhost_run
func anyhost_run(r unsafe.Pointer, phase C.int, ids *C.int, n C.int, flags C.int,
	req *C.char, reqlen C.long, state *C.uintptr_t, out *C.char, outcap C.long, outlen *C.long) (rc C.int) {
	lib := loaded.Load()
	var st *reqState
	*outlen = 0
	defer func() {
		if v := recover(); v != nil {
			panicked(st, v)
			if st != nil && st.handle != 0 {
				lib.slots.Drop(st.handle)
			}
			*state = 0 // never reuse a state a panic left half-done
			rc = http.StatusInternalServerError
		}
	}()
	if flags&C.AH_YIELD != 0 {
		runtime.Gosched()
	}
	st = lib.acquire(*state)
	if err := st.fill(r, bytesOf(req, reqlen)); err != nil {
		st.req.Log().Error().Err(err).Msg("bridge: bad request record")
		lib.keep(st, state, true)
		return http.StatusInternalServerError
	}
	p := core.Phase(phase)
	status := lib.runPhase(st, p, unsafe.Slice((*int32)(unsafe.Pointer(ids)), int(n)))
	content := p == core.Content
	if content && (status == core.OK || status == core.Done) && !st.req.ResponseStarted() && host.PendingRedirect(&st.req) == "" {
		st.req.Write(nil) // an empty 200 (or the status set) still goes out from here
	}
	rec := st.finish(content, status)
	if len(rec) <= int(outcap) {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(outcap)), rec)
		*outlen = C.long(len(rec))
	} else {
		switch lib.apache.send(r, rec, false) {
		case 0:
		case sendBroken:
			st.req.Log().Error().Msg("bridge: Apache could not apply the response record")
			if !st.req.ResponseStarted() {
				status = http.StatusInternalServerError
			}
		default:
			st.req.Log().Debug().Msg("client went away")
		}
	}
	lib.keep(st, state, flags&C.AH_LAST != 0)
	return C.int(status)
}

//export anyhost_check_password
func anyhost_check_password(r unsafe.Pointer, id C.int, user *C.char, ulen C.long, pass *C.char, plen C.long,
	req *C.char, reqlen C.long, state *C.uintptr_t) (rc C.int) {
	lib := loaded.Load()
	var st *reqState
	defer func() {
		if v := recover(); v != nil {
			panicked(st, v)
			*state = 0
			rc = 4 // AUTH_GENERAL_ERROR
		}
	}()
	st = lib.acquire(*state)
	if err := st.fill(r, bytesOf(req, reqlen)); err != nil {
		lib.keep(st, state, true)
		return 4
	}
	// Copies: the password must not be kept as a view of Apache's memory,
	// and neither may outlive the call in a provider's cache.
	rc = C.int(lib.checkPassword(st, uint32(id), string(bytesOf(user, ulen)), string(bytesOf(pass, plen))))
	// Keep the identity (groups) for `Require anyhost group ...`.
	lib.keep(st, state, rc != 1)
	return rc
}

//export anyhost_authz
func anyhost_authz(r unsafe.Pointer, rule *C.char, rlen C.long, req *C.char, reqlen C.long, state *C.uintptr_t) (rc C.int) {
	lib := loaded.Load()
	var st *reqState
	defer func() {
		if v := recover(); v != nil {
			panicked(st, v)
			*state = 0
			rc = 3 // AUTHZ_GENERAL_ERROR
		}
	}()
	had := *state != 0
	st = lib.acquire(*state)
	if err := st.fill(r, bytesOf(req, reqlen)); err != nil {
		lib.keep(st, state, !had)
		return 3
	}
	// A copy: the rule is Apache's memory, and may become a cache key.
	rc = C.int(lib.authorize(st, string(bytesOf(rule, rlen))))
	lib.keep(st, state, !had)
	return rc
}

//export anyhost_release
func anyhost_release(state C.uintptr_t) {
	lib := loaded.Load()
	defer func() {
		if v := recover(); v != nil {
			panicked(nil, v)
		}
	}()
	if lib == nil || state == 0 {
		return
	}
	if st := lib.slots.Drop(uintptr(state)); st != nil {
		st.reset()
		lib.pool.Put(st)
	}
}
