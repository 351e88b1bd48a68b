package bridge

/*
#include <stdlib.h>
#include "anyhost_bridge.h"

long ah_read_body(const ah_host *h, void *r, char *buf, long len);
int ah_send(const ah_host *h, void *r, const char *rec, long len, int flush);
void ah_log(const ah_host *h, void *r, int level, const char *msg, long len);
long ah_env(const ah_host *h, void *r, char **out);
*/
import "C"

import (
	"unsafe"
)

// apache is Apache's side of the bridge, reached through the function table
// mod_anyhost passed to anyhost_init. Go memory given to these calls is
// used by C only during the call.
type apache struct{ api *C.ah_host }

func (h apache) readBody(r unsafe.Pointer, p []byte) int {
	return int(C.ah_read_body(h.api, r, (*C.char)(unsafe.Pointer(&p[0])), C.long(len(p))))
}

func (h apache) send(r unsafe.Pointer, rec []byte, flush bool) int {
	if len(rec) == 0 && !flush {
		return 0
	}
	f := C.int(0)
	if flush {
		f = 1
	}
	var p *C.char
	if len(rec) > 0 {
		p = (*C.char)(unsafe.Pointer(&rec[0]))
	}
	return int(C.ah_send(h.api, r, p, C.long(len(rec)), f))
}

func (h apache) log(r unsafe.Pointer, level int, msg []byte) {
	if len(msg) == 0 {
		return
	}
	C.ah_log(h.api, r, C.int(level), (*C.char)(unsafe.Pointer(&msg[0])), C.long(len(msg)))
}

// env returns the packed environment; it lives in the request pool.
func (h apache) env(r unsafe.Pointer) []byte {
	var out *C.char
	n := C.ah_env(h.api, r, &out)
	if n <= 0 || out == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n))
}
